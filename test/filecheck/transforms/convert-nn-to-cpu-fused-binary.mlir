// RUN: mnistc-opt %s -p convert-nn-to-cpu | filecheck %s

// A channel scale with a fused hardsigmoid: one `binary` call over [C, H*W] rows, the
// activation's code and parameters among its params.
// CHECK: cpu.call @binary(%{{.*}}, %{{.*}}) outs(%{{.*}}) params(op = 1, d0 = 1, d1 = 1, d2 = 3, d3 = 35, l0 = 0, l1 = 0, l2 = 35, l3 = 1, r0 = 0, r1 = 0, r2 = 1, r3 = 0, activation = 11, alpha = 0.2, beta = 0.5)
func.func @forward(%x: tensor<1x3x5x7xf32>) -> tensor<1x3x5x7xf32> {
  %s = nn.weight "s" offset 0 : tensor<1x3x1x1xf32>
  %0 = nn.mul %x, %s activation "hardsigmoid" params [0.2, 0.5] : tensor<1x3x5x7xf32>, tensor<1x3x1x1xf32> -> tensor<1x3x5x7xf32>
  func.return %0 : tensor<1x3x5x7xf32>
}
