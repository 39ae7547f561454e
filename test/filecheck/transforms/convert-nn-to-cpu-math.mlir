// RUN: mnistc-opt %s -p convert-nn-to-cpu | filecheck %s

// Issue 12's lowerings: dims merged to the kernels' rank 4, optional affine inputs null.

func.func @forward(%x: tensor<1x3x4x5xf32>) -> tensor<1x3x4x5xf32> {
  %row = nn.weight "row" offset 0 : tensor<4x1xf32>
  %0 = nn.sub %x, %row : tensor<1x3x4x5xf32>, tensor<4x1xf32> -> tensor<1x3x4x5xf32>
  %1 = nn.reduce_mean %0 dims [1, 3] keepdim 1 : tensor<1x3x4x5xf32> -> tensor<1x1x4x1xf32>
  %2 = nn.div %0, %1 : tensor<1x3x4x5xf32>, tensor<1x1x4x1xf32> -> tensor<1x3x4x5xf32>
  %3 = nn.reduce_max %2 dims [2, 3] keepdim 1 : tensor<1x3x4x5xf32> -> tensor<1x3x1x1xf32>
  %4 = nn.min %2, %3 : tensor<1x3x4x5xf32>, tensor<1x3x1x1xf32> -> tensor<1x3x4x5xf32>
  %5 = nn.layer_norm %4 axis 2 eps 1.000000e-05 : tensor<1x3x4x5xf32> -> tensor<1x3x4x5xf32>
  %g = nn.weight "g" offset 64 : tensor<3xf32>
  %6 = nn.group_norm %5 bias %g groups 3 eps 1.000000e-05 : tensor<1x3x4x5xf32> bias tensor<3xf32> -> tensor<1x3x4x5xf32>
  %7 = nn.pow %6 exponent 2.0 : tensor<1x3x4x5xf32>
  func.return %7 : tensor<1x3x4x5xf32>
}

// sub: the [4, 1] constant read with strides 0 over C and W; op 3 is sub.
// CHECK: cpu.call @binary(%{{.*}}, %{{.*}}) outs(%{{.*}}) params(op = 3, d0 = 1, d1 = 3, d2 = 4, d3 = 5, l0 = 0, l1 = 20, l2 = 5, l3 = 1, r0 = 0, r1 = 0, r2 = 1, r3 = 0, activation = 0, alpha = 0.0, beta = 0.0)
// Mean (op 1) over C and W: kept H between them, four runs.
// CHECK: cpu.call @reduce(%{{.*}}) outs(%{{.*}}) params(op = 1, d0 = 1, d1 = 3, d2 = 4, d3 = 5, r0 = 0, r1 = 1, r2 = 0, r3 = 1)
// CHECK: cpu.call @binary({{.*}}) params(op = 4,
// Max (op 2) over H and W: one reduced run of 20 after the 3 kept channels.
// CHECK: cpu.call @reduce(%{{.*}}) outs(%{{.*}}) params(op = 2, d0 = 1, d1 = 1, d2 = 3, d3 = 20, r0 = 0, r1 = 0, r2 = 0, r3 = 1)
// min (op 6): the [3, 1, 1] operand dense along C, broadcast over H and W, which merge.
// CHECK: cpu.call @binary({{.*}}) params(op = 6, d0 = 1, d1 = 1, d2 = 3, d3 = 20, l0 = 0, l1 = 0, l2 = 20, l3 = 1, r0 = 0, r1 = 0, r2 = 1, r3 = 0, activation = 0, alpha = 0.0, beta = 0.0)
// CHECK: %[[NW:.*]] = cpu.null : memref<4x5xf32>
// CHECK: %[[NB:.*]] = cpu.null : memref<4x5xf32>
// CHECK: cpu.call @layer_norm(%{{.*}}, %[[NW]], %[[NB]]) outs(%{{.*}}) params(outer = 3, inner = 20, eps = 1.0e-05)
// CHECK: %[[NG:.*]] = cpu.null : memref<3xf32>
// CHECK: cpu.call @group_norm(%{{.*}}, %[[NG]], %g) outs(%{{.*}}) params(C = 3, groups = 3, inner = 20, eps = 1.0e-05)
// pow: an activation kind (its code is MNISTC_ACTIVATION_POW), alpha its exponent.
// CHECK: cpu.call @activation(%{{.*}}) outs(%{{.*}}) params(count = 60, activation = {{[0-9]+}}, alpha = 2.0, beta = 0.0)
