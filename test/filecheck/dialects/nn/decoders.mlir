// RUN: mnistc-opt %s | mnistc-opt | filecheck %s
// RUN: mnistc-opt %s --print-op-generic | mnistc-opt | filecheck %s

// The decoder ops (issue 12), round-tripped: transposed convolution, resizing, edge padding.

func.func @forward(%x: tensor<1x4x5x7xf32>) -> tensor<1x2x24x24xf32> {
  %w = nn.weight "up.weight" offset 0 : tensor<4x1x3x3xf32>
  %b = nn.weight "up.bias" offset 192 : tensor<2xf32>
  %0 = nn.conv_transpose2d %x, %w bias %b stride [3, 2] padding [1, 0] output_padding [1, 1] dilation [1, 2] groups 2 activation "leaky_relu" params [0.1] : tensor<1x4x5x7xf32>, tensor<4x1x3x3xf32>, tensor<2xf32> -> tensor<1x2x14x18xf32>
  %1 = nn.conv_transpose2d %x, %w stride [1, 1] padding [0, 0] output_padding [0, 0] dilation [1, 1] groups 4 : tensor<1x4x5x7xf32>, tensor<4x1x3x3xf32> -> tensor<1x4x7x9xf32>
  %2 = nn.resize2d %0 mode "linear" scale [0.5, 0.75] shift [0.5, 0.5] offset [-0.5, -0.5] : tensor<1x2x14x18xf32> -> tensor<1x2x28x24xf32>
  %3 = nn.resize2d %2 mode "nearest_round_prefer_ceil" divide scale [0.5, 1.0] shift [0.0, 0.0] offset [0.0, 0.0] : tensor<1x2x28x24xf32> -> tensor<1x2x14x24xf32>
  %4 = nn.pad2d %3 pads [4, 0, 6, 0] mode "reflect" value 0.0 : tensor<1x2x14x24xf32> -> tensor<1x2x24x24xf32>
  %5 = nn.pad2d %1 pads [9, 0, 8, 15] mode "replicate" value 0.0 : tensor<1x4x7x9xf32> -> tensor<1x4x24x24xf32>
  func.return %4 : tensor<1x2x24x24xf32>
}

// CHECK:      %[[T0:.*]] = nn.conv_transpose2d %{{.*}}, %{{.*}} bias %{{.*}} stride [3, 2] padding [1, 0] output_padding [1, 1] dilation [1, 2] groups 2 activation "leaky_relu" params [1.000000e-01] : tensor<1x4x5x7xf32>, tensor<4x1x3x3xf32>, tensor<2xf32> -> tensor<1x2x14x18xf32>
// CHECK-NEXT: %[[T1:.*]] = nn.conv_transpose2d %{{.*}}, %{{.*}} stride [1, 1] padding [0, 0] output_padding [0, 0] dilation [1, 1] groups 4 : tensor<1x4x5x7xf32>, tensor<4x1x3x3xf32> -> tensor<1x4x7x9xf32>
// CHECK-NEXT: %[[R0:.*]] = nn.resize2d %[[T0]] mode "linear" scale [5.000000e-01, 7.500000e-01] shift [5.000000e-01, 5.000000e-01] offset [-5.000000e-01, -5.000000e-01] : tensor<1x2x14x18xf32> -> tensor<1x2x28x24xf32>
// CHECK-NEXT: %[[R1:.*]] = nn.resize2d %[[R0]] mode "nearest_round_prefer_ceil" divide scale [5.000000e-01, 1.000000e+00] shift [0.000000e+00, 0.000000e+00] offset [0.000000e+00, 0.000000e+00] : tensor<1x2x28x24xf32> -> tensor<1x2x14x24xf32>
// CHECK-NEXT: %{{.*}} = nn.pad2d %[[R1]] pads [4, 0, 6, 0] mode "reflect" value 0.000000e+00 : tensor<1x2x14x24xf32> -> tensor<1x2x24x24xf32>
// CHECK-NEXT: %{{.*}} = nn.pad2d %[[T1]] pads [9, 0, 8, 15] mode "replicate" value 0.000000e+00 : tensor<1x4x7x9xf32> -> tensor<1x4x24x24xf32>
