// RUN: mnistc-opt %s -p convert-nn-to-cpu | filecheck %s

// The `matmul` family's kernel calls: batch dimensions merged (a [1, 2, 3] batch is one
// of 6), a broadcast operand read with stride 0; attention over the merged batch, its
// mask's strides (per head, shared, one row of keys for every query).

func.func @forward(%q: tensor<1x2x3x5x8xf32>) -> tensor<1x2x3x5x8xf32> {
  %t = nn.transpose %q permutation [0, 1, 2, 4, 3] : tensor<1x2x3x5x8xf32> -> tensor<1x2x3x8x5xf32>
  %s = nn.matmul %q, %t : tensor<1x2x3x5x8xf32>, tensor<1x2x3x8x5xf32> -> tensor<1x2x3x5x5xf32>
  %k = nn.slice %t offsets [0, 0, 0, 0, 0] strides [1, 1, 1, 1, 1] : tensor<1x2x3x8x5xf32> -> tensor<1x1x3x8x5xf32>
  %b = nn.matmul %q, %k : tensor<1x2x3x5x8xf32>, tensor<1x1x3x8x5xf32> -> tensor<1x2x3x5x5xf32>
  %full = nn.weight "full" offset 0 : tensor<1x2x3x5x5xf32>
  %a = nn.attention %q, %q, %q mask %full scale 0.25 causal 0 : tensor<1x2x3x5x8xf32>, tensor<1x2x3x5x8xf32>, tensor<1x2x3x5x8xf32>, tensor<1x2x3x5x5xf32> -> tensor<1x2x3x5x8xf32>
  %shared = nn.weight "shared" offset 600 : tensor<5x5xf32>
  %c = nn.attention %q, %q, %q mask %shared scale 0.25 causal 0 : tensor<1x2x3x5x8xf32>, tensor<1x2x3x5x8xf32>, tensor<1x2x3x5x8xf32>, tensor<5x5xf32> -> tensor<1x2x3x5x8xf32>
  %keys = nn.weight "keys" offset 700 : tensor<5xf32>
  %d = nn.attention %q, %q, %q mask %keys scale 0.25 causal 1 : tensor<1x2x3x5x8xf32>, tensor<1x2x3x5x8xf32>, tensor<1x2x3x5x8xf32>, tensor<5xf32> -> tensor<1x2x3x5x8xf32>
  %e = nn.attention %q, %q, %q scale 0.25 causal 0 : tensor<1x2x3x5x8xf32>, tensor<1x2x3x5x8xf32>, tensor<1x2x3x5x8xf32> -> tensor<1x2x3x5x8xf32>
  func.return %e : tensor<1x2x3x5x8xf32>
}

// CHECK:      cpu.call @matmul(%{{.*}}, %{{.*}}) outs(%{{.*}}) params(M = 5, K = 8, N = 5, d0 = 1, l0 = 0, r0 = 0, d1 = 1, l1 = 0, r1 = 0, d2 = 6, l2 = 40, r2 = 40)
// CHECK:      cpu.call @matmul(%{{.*}}, %{{.*}}) outs(%{{.*}}) params(M = 5, K = 8, N = 5, d0 = 1, l0 = 0, r0 = 0, d1 = 2, l1 = 120, r1 = 0, d2 = 3, l2 = 40, r2 = 40)
// CHECK:      cpu.call @attention(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) outs(%{{.*}}) params(batch = 6, L = 5, S = 5, E = 8, EV = 8, causal = 0, scale = 0.25, mask_batch_stride = 25, mask_row_stride = 5)
// CHECK:      cpu.call @attention(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) outs(%{{.*}}) params(batch = 6, L = 5, S = 5, E = 8, EV = 8, causal = 0, scale = 0.25, mask_batch_stride = 0, mask_row_stride = 5)
// CHECK:      cpu.call @attention(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) outs(%{{.*}}) params(batch = 6, L = 5, S = 5, E = 8, EV = 8, causal = 1, scale = 0.25, mask_batch_stride = 0, mask_row_stride = 0)
// CHECK:      %[[NULL:.*]] = cpu.null : memref<1xf32>
// CHECK-NEXT: cpu.call @attention(%{{.*}}, %{{.*}}, %{{.*}}, %[[NULL]]) outs(%{{.*}}) params(batch = 6, L = 5, S = 5, E = 8, EV = 8, causal = 0, scale = 0.25, mask_batch_stride = 0, mask_row_stride = 0)
