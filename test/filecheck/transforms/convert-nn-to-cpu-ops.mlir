// RUN: mnistc-opt %s -p convert-nn-to-cpu | filecheck %s

func.func @forward(%x: tensor<1x2x4x4xf32>) -> tensor<1x4x2x2xf32> {
  %s = nn.weight "scale" offset 0 : tensor<2x1x1xf32>
  %m = nn.weight "m" offset 64 : tensor<2xf32>
  %0 = nn.mul %x, %s : tensor<1x2x4x4xf32>, tensor<2x1x1xf32> -> tensor<1x2x4x4xf32>
  %1 = nn.batch_norm %0 mean %m var %m gamma %m beta %m eps 1.0e-03 : tensor<1x2x4x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32> -> tensor<1x2x4x4xf32>
  %2 = nn.avg_pool2d %1 kernel [2, 2] stride [2, 2] padding [0, 0] ceil_mode 0 count_include_pad 1 divisor 0 : tensor<1x2x4x4xf32> -> tensor<1x2x2x2xf32>
  %3 = nn.adaptive_avg_pool2d %1 : tensor<1x2x4x4xf32> -> tensor<1x2x2x2xf32>
  %4 = nn.hardtanh %3 min 0.0 max 6.0 : tensor<1x2x2x2xf32>
  %5 = nn.concat %2, %4 dim 1 : tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32> -> tensor<1x4x2x2xf32>
  func.return %5 : tensor<1x4x2x2xf32>
}

// Broadcasting over [1, 2, 4, 4]: x has strides [0, 16, 4, 1] (size-1 dims get 0), the
// [2,1,1] scale [0, 1, 0, 0]. The size-1 dim goes, and H, W merge (both operands step
// over them as over one dim): a channel scale of [2, 16] by [2, 1], rows of 16.
// CHECK: cpu.call @binary(%{{.*}}, %{{.*}}) outs(%{{.*}}) params(op = 1, d0 = 1, d1 = 1, d2 = 2, d3 = 16, l0 = 0, l1 = 0, l2 = 16, l3 = 1, r0 = 0, r1 = 0, r2 = 1, r3 = 0, activation = 0, alpha = 0.0, beta = 0.0)
// CHECK: cpu.call @batch_norm({{.*}}) outs(%{{.*}}) params(C = 2, inner = 16, eps = 0.001)
// CHECK: cpu.call @avg_pool2d({{.*}}) params(C = 2, H = 4, W = 4, OH = 2, OW = 2, KH = 2, KW = 2, stride_h = 2, stride_w = 2, pad_h = 0, pad_w = 0, count_include_pad = 1, divisor = 0)
// CHECK: cpu.call @adaptive_avg_pool2d({{.*}}) params(C = 2, H = 4, W = 4, OH = 2, OW = 2)
// CHECK: cpu.call @activation({{.*}}) params(count = 8, activation = 2, alpha = 0.0, beta = 6.0)
// Concatenation: one block copy per input into the output sample, at offsets 0 and 8.
// CHECK: cpu.call @copy_block(%{{.*}}) outs(%[[Y:.*]]) params(outer = 1, inner = 8, out_stride = 16, offset = 0)
// CHECK: cpu.call @copy_block(%{{.*}}) outs(%[[Y]]) params(outer = 1, inner = 8, out_stride = 16, offset = 8)
