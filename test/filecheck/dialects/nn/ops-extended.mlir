// RUN: mnistc-opt %s | mnistc-opt | filecheck %s
// RUN: mnistc-opt %s --print-op-generic | mnistc-opt | filecheck %s

// The activation, normalisation, pooling, arithmetic and concat ops, round-tripped.

func.func @forward(%x: tensor<1x4x8x8xf32>, %r: tensor<1x4x8x8xf32>) -> tensor<1x8x4x4xf32> {
  %w = nn.weight "w" offset 0 : tensor<4x4x3x3xf32>
  %b = nn.weight "b" offset 576 : tensor<4xf32>
  %0 = nn.conv2d %x, %w bias %b residual %r stride [1, 1] padding [1, 1] dilation [1, 1] groups 1 activation "leaky_relu" params [0.1] : tensor<1x4x8x8xf32>, tensor<4x4x3x3xf32>, tensor<4xf32> residual tensor<1x4x8x8xf32> -> tensor<1x4x8x8xf32>
  %1 = nn.hardtanh %0 min -1.0 max 6.0 : tensor<1x4x8x8xf32>
  %2 = nn.leaky_relu %1 slope 0.2 : tensor<1x4x8x8xf32>
  %3 = nn.elu %2 alpha 1.0 : tensor<1x4x8x8xf32>
  %4 = nn.sigmoid %3 : tensor<1x4x8x8xf32>
  %5 = nn.tanh %4 : tensor<1x4x8x8xf32>
  %6 = nn.hardswish %5 : tensor<1x4x8x8xf32>
  %g = nn.gelu %6 approximate "tanh" : tensor<1x4x8x8xf32>
  %h = nn.silu %g : tensor<1x4x8x8xf32>
  %7 = nn.hardsigmoid %h alpha 0.2 beta 0.5 : tensor<1x4x8x8xf32>
  %8 = nn.batch_norm %7 mean %b var %b gamma %b beta %b eps 1.0e-05 : tensor<1x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32> -> tensor<1x4x8x8xf32>
  %9 = nn.avg_pool2d %8 kernel [3, 3] stride [2, 2] padding [1, 1] ceil_mode 0 count_include_pad 0 divisor 0 : tensor<1x4x8x8xf32> -> tensor<1x4x4x4xf32>
  %10 = nn.adaptive_avg_pool2d %8 : tensor<1x4x8x8xf32> -> tensor<1x4x4x4xf32>
  %s = nn.weight "scale" offset 640 : tensor<4x1x1xf32>
  %11 = nn.mul %10, %s : tensor<1x4x4x4xf32>, tensor<4x1x1xf32> -> tensor<1x4x4x4xf32>
  %12 = nn.add %11, %9 activation "hardtanh" params [0.0, 6.0] : tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32> -> tensor<1x4x4x4xf32>
  %13 = nn.concat %12, %9 dim 1 : tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32> -> tensor<1x8x4x4xf32>
  %p = nn.weight "slope" offset 704 : tensor<8x1x1xf32>
  %14 = nn.prelu %13, %p : tensor<1x8x4x4xf32>, tensor<8x1x1xf32> -> tensor<1x8x4x4xf32>
  %15 = nn.pad2d %14 pads [1, 0, 2, 1] value 0.5 : tensor<1x8x4x4xf32> -> tensor<1x8x7x5xf32>
  %16 = nn.lrn %15 size 5 alpha 1.0e-04 beta 0.75 bias 1.0 : tensor<1x8x7x5xf32>
  func.return %13 : tensor<1x8x4x4xf32>
}

// CHECK:      nn.conv2d %{{.*}}, %{{.*}} bias %{{.*}} residual %{{.*}} stride [1, 1] padding [1, 1] dilation [1, 1] groups 1 activation "leaky_relu" params [1.000000e-01] : tensor<1x4x8x8xf32>, tensor<4x4x3x3xf32>, tensor<4xf32> residual tensor<1x4x8x8xf32> -> tensor<1x4x8x8xf32>
// CHECK-NEXT: nn.hardtanh %{{.*}} min -1.000000e+00 max 6.000000e+00 : tensor<1x4x8x8xf32>
// CHECK-NEXT: nn.leaky_relu %{{.*}} slope 2.000000e-01 : tensor<1x4x8x8xf32>
// CHECK-NEXT: nn.elu %{{.*}} alpha 1.000000e+00 : tensor<1x4x8x8xf32>
// CHECK-NEXT: nn.sigmoid %{{.*}} : tensor<1x4x8x8xf32>
// CHECK-NEXT: nn.tanh %{{.*}} : tensor<1x4x8x8xf32>
// CHECK-NEXT: nn.hardswish %{{.*}} : tensor<1x4x8x8xf32>
// CHECK-NEXT: nn.gelu %{{.*}} approximate "tanh" : tensor<1x4x8x8xf32>
// CHECK-NEXT: nn.silu %{{.*}} : tensor<1x4x8x8xf32>
// CHECK-NEXT: nn.hardsigmoid %{{.*}} alpha 2.000000e-01 beta 5.000000e-01 : tensor<1x4x8x8xf32>
// CHECK-NEXT: nn.batch_norm %{{.*}} mean %{{.*}} var %{{.*}} gamma %{{.*}} beta %{{.*}} eps 1.000000e-05 : tensor<1x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32> -> tensor<1x4x8x8xf32>
// CHECK-NEXT: nn.avg_pool2d %{{.*}} kernel [3, 3] stride [2, 2] padding [1, 1] ceil_mode 0 count_include_pad 0 divisor 0 : tensor<1x4x8x8xf32> -> tensor<1x4x4x4xf32>
// CHECK-NEXT: nn.adaptive_avg_pool2d %{{.*}} : tensor<1x4x8x8xf32> -> tensor<1x4x4x4xf32>
// CHECK-NEXT: nn.weight "scale" offset 640 : tensor<4x1x1xf32>
// CHECK-NEXT: nn.mul %{{.*}}, %{{.*}} : tensor<1x4x4x4xf32>, tensor<4x1x1xf32> -> tensor<1x4x4x4xf32>
// CHECK-NEXT: nn.add %{{.*}}, %{{.*}} activation "hardtanh" params [0.000000e+00, 6.000000e+00] : tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32> -> tensor<1x4x4x4xf32>
// CHECK-NEXT: nn.concat %{{.*}}, %{{.*}} dim 1 : tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32> -> tensor<1x8x4x4xf32>
// CHECK-NEXT: nn.weight "slope" offset 704 : tensor<8x1x1xf32>
// CHECK-NEXT: nn.prelu %{{.*}}, %{{.*}} : tensor<1x8x4x4xf32>, tensor<8x1x1xf32> -> tensor<1x8x4x4xf32>
// CHECK-NEXT: nn.pad2d %{{.*}} pads [1, 0, 2, 1] value 5.000000e-01 : tensor<1x8x4x4xf32> -> tensor<1x8x7x5xf32>
// CHECK-NEXT: nn.lrn %{{.*}} size 5 alpha 1.000000e-04 beta 7.500000e-01 bias 1.000000e+00 : tensor<1x8x7x5xf32>
