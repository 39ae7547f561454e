// RUN: mnistc-opt %s | mnistc-opt | filecheck %s
// RUN: mnistc-opt %s --print-op-generic | mnistc-opt | filecheck %s

// Issue 12's ops, in custom form and after a round trip through the generic form.

func.func @forward(%x: tensor<1x6x4x5xf32>) -> tensor<1x4xf32> {
  %0 = nn.mish %x : tensor<1x6x4x5xf32>
  %1 = nn.softplus %0 beta 2.000000e+00 threshold 2.000000e+01 : tensor<1x6x4x5xf32>
  %2 = nn.softsign %1 : tensor<1x6x4x5xf32>
  %3 = nn.selu %2 : tensor<1x6x4x5xf32>
  %4 = nn.celu %3 alpha 5.000000e-01 : tensor<1x6x4x5xf32>
  %5 = nn.exp %4 : tensor<1x6x4x5xf32>
  %6 = nn.log %5 : tensor<1x6x4x5xf32>
  %7 = nn.sqrt %6 : tensor<1x6x4x5xf32>
  %8 = nn.rsqrt %7 : tensor<1x6x4x5xf32>
  %9 = nn.neg %8 : tensor<1x6x4x5xf32>
  %10 = nn.abs %9 : tensor<1x6x4x5xf32>
  %11 = nn.pow %10 exponent 1.500000e+00 : tensor<1x6x4x5xf32>
  %12 = nn.reciprocal %11 : tensor<1x6x4x5xf32>
  %13 = nn.glu %12 dim 1 : tensor<1x6x4x5xf32> -> tensor<1x3x4x5xf32>
  %row = nn.weight "row" offset 0 : tensor<4x1xf32>
  %14 = nn.sub %13, %row : tensor<1x3x4x5xf32>, tensor<4x1xf32> -> tensor<1x3x4x5xf32>
  %15 = nn.div %row, %14 : tensor<4x1xf32>, tensor<1x3x4x5xf32> -> tensor<1x3x4x5xf32>
  %16 = nn.max %15, %14 : tensor<1x3x4x5xf32>, tensor<1x3x4x5xf32> -> tensor<1x3x4x5xf32>
  %17 = nn.min %16, %row : tensor<1x3x4x5xf32>, tensor<4x1xf32> -> tensor<1x3x4x5xf32>
  %w = nn.weight "ln.weight" offset 64 : tensor<4x5xf32>
  %18 = nn.layer_norm %17 weight %w bias %w axis 2 eps 1.000000e-05 : tensor<1x3x4x5xf32> weight tensor<4x5xf32> bias tensor<4x5xf32> -> tensor<1x3x4x5xf32>
  %19 = nn.layer_norm %18 axis 3 eps 1.000000e-05 : tensor<1x3x4x5xf32> -> tensor<1x3x4x5xf32>
  %g = nn.weight "gn.weight" offset 192 : tensor<3xf32>
  %20 = nn.group_norm %19 weight %g groups 3 eps 1.000000e-05 : tensor<1x3x4x5xf32> weight tensor<3xf32> -> tensor<1x3x4x5xf32>
  %21 = nn.reduce_sum %20 dims [1, 3] keepdim 1 : tensor<1x3x4x5xf32> -> tensor<1x1x4x1xf32>
  %22 = nn.reduce_max %21 dims [3] keepdim 0 : tensor<1x1x4x1xf32> -> tensor<1x1x4xf32>
  %23 = nn.reduce_min %22 dims [1] keepdim 0 : tensor<1x1x4xf32> -> tensor<1x4xf32>
  %24 = nn.reduce_mean %23 dims [1] keepdim 1 : tensor<1x4xf32> -> tensor<1x1xf32>
  %25 = nn.add %23, %24 : tensor<1x4xf32>, tensor<1x1xf32> -> tensor<1x4xf32>
  func.return %25 : tensor<1x4xf32>
}

// CHECK:      %[[M:.*]] = nn.mish %{{.*}} : tensor<1x6x4x5xf32>
// CHECK-NEXT: nn.softplus %[[M]] beta 2.000000e+00 threshold 2.000000e+01 : tensor<1x6x4x5xf32>
// CHECK-NEXT: nn.softsign
// CHECK-NEXT: nn.selu
// CHECK-NEXT: nn.celu %{{.*}} alpha 5.000000e-01 : tensor<1x6x4x5xf32>
// CHECK-NEXT: nn.exp
// CHECK-NEXT: nn.log
// CHECK-NEXT: nn.sqrt
// CHECK-NEXT: nn.rsqrt
// CHECK-NEXT: nn.neg
// CHECK-NEXT: nn.abs
// CHECK-NEXT: nn.pow %{{.*}} exponent 1.500000e+00 : tensor<1x6x4x5xf32>
// CHECK-NEXT: nn.reciprocal
// CHECK-NEXT: nn.glu %{{.*}} dim 1 : tensor<1x6x4x5xf32> -> tensor<1x3x4x5xf32>
// CHECK-NEXT: %[[ROW:.*]] = nn.weight "row" offset 0 : tensor<4x1xf32>
// CHECK-NEXT: nn.sub %{{.*}}, %[[ROW]] : tensor<1x3x4x5xf32>, tensor<4x1xf32> -> tensor<1x3x4x5xf32>
// CHECK-NEXT: nn.div %[[ROW]], %{{.*}} : tensor<4x1xf32>, tensor<1x3x4x5xf32> -> tensor<1x3x4x5xf32>
// CHECK-NEXT: nn.max
// CHECK-NEXT: nn.min
// CHECK-NEXT: %[[W:.*]] = nn.weight "ln.weight"
// CHECK-NEXT: nn.layer_norm %{{.*}} weight %[[W]] bias %[[W]] axis 2 eps 1.000000e-05 : tensor<1x3x4x5xf32> weight tensor<4x5xf32> bias tensor<4x5xf32> -> tensor<1x3x4x5xf32>
// CHECK-NEXT: nn.layer_norm %{{.*}} axis 3 eps 1.000000e-05 : tensor<1x3x4x5xf32> -> tensor<1x3x4x5xf32>
// CHECK-NEXT: %[[G:.*]] = nn.weight "gn.weight"
// CHECK-NEXT: nn.group_norm %{{.*}} weight %[[G]] groups 3 eps 1.000000e-05 : tensor<1x3x4x5xf32> weight tensor<3xf32> -> tensor<1x3x4x5xf32>
// CHECK-NEXT: nn.reduce_sum %{{.*}} dims [1, 3] keepdim 1 : tensor<1x3x4x5xf32> -> tensor<1x1x4x1xf32>
// CHECK-NEXT: nn.reduce_max %{{.*}} dims [3] keepdim 0 : tensor<1x1x4x1xf32> -> tensor<1x1x4xf32>
// CHECK-NEXT: nn.reduce_min %{{.*}} dims [1] keepdim 0 : tensor<1x1x4xf32> -> tensor<1x4xf32>
// CHECK-NEXT: nn.reduce_mean %{{.*}} dims [1] keepdim 1 : tensor<1x4xf32> -> tensor<1x1xf32>
