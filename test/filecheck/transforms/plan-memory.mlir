// RUN: mnistc-opt %s -p plan-memory | filecheck %s
// RUN: mnistc-opt %s -p plan-memory,plan-memory | filecheck %s

// a = relu(x) [1 KiB], b = linear(a) [2 KiB], c = linear(b) [256 B],
// y = linear(view(b), bias = view(c)): b stays live to the end through its view,
// a dies when b is computed, so c reuses a's bytes.
// CHECK:      func.func @forward
// CHECK-SAME:   cpu.arena_size = 3072 : i64, cpu.unshared_size = 3328 : i64
// CHECK:        %[[A:.*]] = cpu.arena_slot offset 2048 : memref<1x256xf32>
// CHECK:        %[[B:.*]] = cpu.arena_slot offset 0 : memref<1x512xf32>
// CHECK:        %[[C:.*]] = cpu.arena_slot offset 2048 : memref<1x64xf32>
// CHECK-NOT:    memref.alloc
func.func @forward(%input: memref<?x256xf32>, %output: memref<?x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %batch = memref.dim %input, %c0 : memref<?x256xf32>
  %w1 = cpu.weight "w1" offset 0 : memref<512x256xf32>
  %w2 = cpu.weight "w2" offset 0 : memref<64x512xf32>
  %w3 = cpu.weight "w3" offset 0 : memref<64x512xf32>
  scf.for %n = %c0 to %batch step %c1 {
    %x = cpu.sample %input[%n] : memref<?x256xf32> -> memref<1x256xf32>
    %y = cpu.sample %output[%n] : memref<?x64xf32> -> memref<1x64xf32>
    %a = memref.alloc() : memref<1x256xf32>
    cpu.call @copy(%x) outs(%a) params(count = 256) : (memref<1x256xf32>) -> (memref<1x256xf32>)
    %b = memref.alloc() : memref<1x512xf32>
    %null = cpu.null : memref<512xf32>
    cpu.call @linear(%a, %w1, %null) outs(%b) params(M = 1, IN = 256, OUT = 512, activation = 0, alpha = 0.0, beta = 0.0) : (memref<1x256xf32>, memref<512x256xf32>, memref<512xf32>) -> (memref<1x512xf32>)
    %c = memref.alloc() : memref<1x64xf32>
    %null2 = cpu.null : memref<64xf32>
    cpu.call @linear(%b, %w2, %null2) outs(%c) params(M = 1, IN = 512, OUT = 64, activation = 0, alpha = 0.0, beta = 0.0) : (memref<1x512xf32>, memref<64x512xf32>, memref<64xf32>) -> (memref<1x64xf32>)
    %bv = cpu.view %b : memref<1x512xf32> -> memref<512xf32>
    %cv = cpu.view %c : memref<1x64xf32> -> memref<64xf32>
    %bv2 = cpu.view %bv : memref<512xf32> -> memref<1x512xf32>
    cpu.call @linear(%bv2, %w3, %cv) outs(%y) params(M = 1, IN = 512, OUT = 64, activation = 0, alpha = 0.0, beta = 0.0) : (memref<1x512xf32>, memref<64x512xf32>, memref<64xf32>) -> (memref<1x64xf32>)
  }
  func.return
}

// RUN: mnistc-opt %s -p 'plan-memory{alignment=4}' | filecheck %s --check-prefix=ALIGN4
// With 4-byte alignment the same plan needs no padding: 1024 + 2048 bytes, c inside a's.
// ALIGN4: cpu.arena_size = 3072 : i64, cpu.unshared_size = 3328 : i64

// RUN: not mnistc-opt %s -p 'plan-memory{alignment=3}' 2>&1 | filecheck %s --check-prefix=BADALIGN
// BADALIGN: mnistc-opt: error: plan-memory: alignment must be a power of two >= 4, got 3
