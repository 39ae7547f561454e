// RUN: mnistc-opt %s | mnistc-opt | filecheck %s
// RUN: mnistc-opt %s --print-op-generic | mnistc-opt | filecheck %s

func.func @forward(%input: memref<?x1x4x4xf32>, %output: memref<?x16xf32>) {
  %c0 = arith.constant 0 : index
  %w = cpu.weight "w" offset 64 : memref<16x16xf32>
  %x = cpu.sample %input[%c0] : memref<?x1x4x4xf32> -> memref<1x1x4x4xf32>
  %y = cpu.sample %output[%c0] : memref<?x16xf32> -> memref<1x16xf32>
  %v = cpu.view %x : memref<1x1x4x4xf32> -> memref<1x16xf32>
  %half = cpu.view %x offset 8 : memref<1x1x4x4xf32> -> memref<1x1x2x4xf32>
  %b = cpu.null : memref<16xf32>
  %t = cpu.arena_slot offset 128 : memref<1x16xf32>
  cpu.call @linear(%v, %w, %b) outs(%t) params(M = 1, IN = 16, OUT = 16, activation = 1, alpha = 0.0, beta = 0.0) : (memref<1x16xf32>, memref<16x16xf32>, memref<16xf32>) -> (memref<1x16xf32>)
  cpu.call @copy(%t) outs(%y) params(count = 16) : (memref<1x16xf32>) -> (memref<1x16xf32>)
  func.return
}

// CHECK:      %[[W:.*]] = cpu.weight "w" offset 64 : memref<16x16xf32>
// CHECK-NEXT: %[[X:.*]] = cpu.sample %{{.*}}[%{{.*}}] : memref<?x1x4x4xf32> -> memref<1x1x4x4xf32>
// CHECK-NEXT: %[[Y:.*]] = cpu.sample %{{.*}}[%{{.*}}] : memref<?x16xf32> -> memref<1x16xf32>
// CHECK-NEXT: %[[V:.*]] = cpu.view %[[X]] : memref<1x1x4x4xf32> -> memref<1x16xf32>
// CHECK-NEXT: cpu.view %[[X]] offset 8 : memref<1x1x4x4xf32> -> memref<1x1x2x4xf32>
// CHECK-NEXT: %[[B:.*]] = cpu.null : memref<16xf32>
// CHECK-NEXT: %[[T:.*]] = cpu.arena_slot offset 128 : memref<1x16xf32>
// CHECK-NEXT: cpu.call @linear(%[[V]], %[[W]], %[[B]]) outs(%[[T]]) params(M = 1, IN = 16, OUT = 16, activation = 1, alpha = 0.0, beta = 0.0) : (memref<1x16xf32>, memref<16x16xf32>, memref<16xf32>) -> (memref<1x16xf32>)
// CHECK-NEXT: cpu.call @copy(%[[T]]) outs(%[[Y]]) params(count = 16) : (memref<1x16xf32>) -> (memref<1x16xf32>)
