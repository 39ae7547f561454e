// RUN: mnistc-opt %s -p convert-nn-to-cpu | filecheck %s
// RUN: mnistc-opt %s -p convert-nn-to-cpu,plan-memory -t cpp | filecheck %s --check-prefix=CPP

// A slice that reads one contiguous run of its input (the second half of the channels)
// is a view at an offset; a strided slice, a transpose and an expansion copy through
// copy_strided, their dimensions merged where they walk consecutive elements.
func.func @forward(%x: tensor<1x4x3x5xf32>) -> tensor<1x4x10x3xf32> {
  %0 = nn.slice %x offsets [0, 2, 0, 0] strides [1, 1, 1, 1] : tensor<1x4x3x5xf32> -> tensor<1x2x3x5xf32>
  %1 = nn.slice %x offsets [0, 0, 0, 4] strides [1, 1, 1, -2] : tensor<1x4x3x5xf32> -> tensor<1x2x3x3xf32>
  %2 = nn.transpose %0 permutation [0, 1, 3, 2] : tensor<1x2x3x5xf32> -> tensor<1x2x5x3xf32>
  %3 = nn.concat %2, %2 dim 2 : tensor<1x2x5x3xf32>, tensor<1x2x5x3xf32> -> tensor<1x2x10x3xf32>
  %4 = nn.expand %1 : tensor<1x2x3x3xf32> -> tensor<1x2x3x3xf32>
  %5 = nn.slice %3 offsets [0, 0, 0, 0] strides [1, 1, 1, 1] : tensor<1x2x10x3xf32> -> tensor<1x1x10x3xf32>
  %6 = nn.expand %5 : tensor<1x1x10x3xf32> -> tensor<1x4x10x3xf32>
  func.return %6 : tensor<1x4x10x3xf32>
}

// CHECK:      %[[X:.*]] = cpu.sample
// CHECK:      %[[HALF:.*]] = cpu.view %[[X]] offset 30 : memref<1x4x3x5xf32> -> memref<1x2x3x5xf32>
// CHECK-NEXT: %[[S:.*]] = memref.alloc() : memref<1x2x3x3xf32>
// CHECK-NEXT: cpu.call @copy_strided(%[[X]]) outs(%[[S]]) params(d0 = 1, d1 = 1, d2 = 1, d3 = 1, d4 = 6, d5 = 3, s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 5, s5 = -2, offset = 4, out_offset = 0)
// CHECK-NEXT: %[[T:.*]] = memref.alloc() : memref<1x2x5x3xf32>
// CHECK-NEXT: cpu.call @copy_strided(%[[HALF]]) outs(%[[T]]) params(d0 = 1, d1 = 1, d2 = 1, d3 = 2, d4 = 5, d5 = 3, s0 = 0, s1 = 0, s2 = 0, s3 = 15, s4 = 1, s5 = 5, offset = 0, out_offset = 0)
// CHECK:      %[[C:.*]] = memref.alloc() : memref<1x2x10x3xf32>
// CHECK:      %[[FIRST:.*]] = cpu.view %[[C]] offset 0 : memref<1x2x10x3xf32> -> memref<1x1x10x3xf32>
// CHECK:      cpu.call @copy_strided(%[[FIRST]]) outs(%{{.*}}) params(d0 = 1, d1 = 1, d2 = 1, d3 = 1, d4 = 4, d5 = 30, s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 1, offset = 0, out_offset = 0)

// CPP: mnistc_copy_strided((x + 30),
