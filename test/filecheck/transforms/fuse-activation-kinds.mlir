// RUN: mnistc-opt %s -p fuse-activation | filecheck %s

// Every activation op fuses, carrying its parameters.
// CHECK-LABEL: func.func @kinds
// CHECK: nn.conv2d {{.*}} activation "leaky_relu" params [1.000000e-01]
// CHECK: nn.conv2d {{.*}} activation "hardtanh" params [0.000000e+00, 6.000000e+00]
// CHECK: nn.linear {{.*}} activation "gelu_tanh"
// CHECK: nn.linear {{.*}} activation "elu" params [5.000000e-01]
// CHECK: nn.linear {{.*}} activation "sigmoid"
// CHECK-NOT: nn.leaky_relu
// CHECK-NOT: nn.hardtanh
// CHECK-NOT: nn.gelu
func.func @kinds(%x: tensor<1x1x6x6xf32>) -> tensor<1x2xf32> {
  %w = nn.weight "w" offset 0 : tensor<1x1x3x3xf32>
  %0 = nn.conv2d %x, %w stride [1, 1] padding [1, 1] dilation [1, 1] groups 1 : tensor<1x1x6x6xf32>, tensor<1x1x3x3xf32> -> tensor<1x1x6x6xf32>
  %1 = nn.leaky_relu %0 slope 0.1 : tensor<1x1x6x6xf32>
  %2 = nn.conv2d %1, %w stride [1, 1] padding [1, 1] dilation [1, 1] groups 1 : tensor<1x1x6x6xf32>, tensor<1x1x3x3xf32> -> tensor<1x1x6x6xf32>
  %3 = nn.hardtanh %2 min 0.0 max 6.0 : tensor<1x1x6x6xf32>
  %4 = nn.reshape %3 : tensor<1x1x6x6xf32> -> tensor<1x36xf32>
  %fw = nn.weight "fw" offset 0 : tensor<2x36xf32>
  %5 = nn.linear %4, %fw : tensor<1x36xf32>, tensor<2x36xf32> -> tensor<1x2xf32>
  %6 = nn.gelu %5 approximate "tanh" : tensor<1x2xf32>
  %gw = nn.weight "gw" offset 0 : tensor<2x2xf32>
  %7 = nn.linear %6, %gw : tensor<1x2xf32>, tensor<2x2xf32> -> tensor<1x2xf32>
  %8 = nn.elu %7 alpha 0.5 : tensor<1x2xf32>
  %9 = nn.linear %8, %gw : tensor<1x2xf32>, tensor<2x2xf32> -> tensor<1x2xf32>
  %10 = nn.sigmoid %9 : tensor<1x2xf32>
  func.return %10 : tensor<1x2xf32>
}
