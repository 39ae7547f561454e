// RUN: mnistc-opt %s -p convert-nn-to-cpu | filecheck %s

// The decoder ops' kernel calls: transposed convolution, resizing (mode code 4: linear,
// 0: nearest_floor; dividing by the scale or multiplying), edge padding.

func.func @forward(%x: tensor<1x4x5x7xf32>) -> tensor<1x2x18x24xf32> {
  %w = nn.weight "up.weight" offset 0 : tensor<4x1x3x3xf32>
  %b = nn.weight "up.bias" offset 192 : tensor<2xf32>
  %0 = nn.conv_transpose2d %x, %w bias %b stride [3, 2] padding [1, 0] output_padding [1, 1] dilation [1, 2] groups 2 activation "relu" : tensor<1x4x5x7xf32>, tensor<4x1x3x3xf32>, tensor<2xf32> -> tensor<1x2x14x18xf32>
  %1 = nn.resize2d %0 mode "linear" scale [0.5, 0.75] shift [0.5, 0.5] offset [-0.5, -0.5] : tensor<1x2x14x18xf32> -> tensor<1x2x28x24xf32>
  %2 = nn.resize2d %1 mode "nearest_floor" divide scale [0.5, 1.0] shift [0.0, 0.0] offset [0.0, 0.0] : tensor<1x2x28x24xf32> -> tensor<1x2x14x24xf32>
  %3 = nn.pad2d %2 pads [1, 0, 2, 0] mode "reflect" value 0.0 : tensor<1x2x14x24xf32> -> tensor<1x2x17x24xf32>
  %4 = nn.pad2d %3 pads [1, 0, 0, 0] mode "replicate" value 0.0 : tensor<1x2x17x24xf32> -> tensor<1x2x18x24xf32>
  %5 = nn.pad2d %4 pads [0, 0, 0, 0] value 0.0 : tensor<1x2x18x24xf32> -> tensor<1x2x18x24xf32>
  %6 = nn.conv_transpose2d %x, %w stride [1, 1] padding [0, 0] output_padding [0, 0] dilation [1, 1] groups 4 : tensor<1x4x5x7xf32>, tensor<4x1x3x3xf32> -> tensor<1x4x7x9xf32>
  func.return %5 : tensor<1x2x18x24xf32>
}

// CHECK:      cpu.call @conv_transpose2d(%{{.*}}, %{{.*}}, %{{.*}}) outs(%{{.*}}) params(C = 4, H = 5, W = 7, K = 2, OH = 14, OW = 18, KH = 3, KW = 3, stride_h = 3, stride_w = 2, pad_h = 1, pad_w = 0, dilation_h = 1, dilation_w = 2, groups = 2, activation = 1, alpha = 0.0, beta = 0.0)
// CHECK:      cpu.call @resize2d(%{{.*}}) outs(%{{.*}}) params(C = 2, H = 14, W = 18, OH = 28, OW = 24, mode = 4, divide = 0, scale_h = 0.5, scale_w = 0.75, shift_h = 0.5, shift_w = 0.5, offset_h = -0.5, offset_w = -0.5)
// CHECK:      cpu.call @resize2d(%{{.*}}) outs(%{{.*}}) params(C = 2, H = 28, W = 24, OH = 14, OW = 24, mode = 0, divide = 1, scale_h = 0.5, scale_w = 1.0, shift_h = 0.0, shift_w = 0.0, offset_h = 0.0, offset_w = 0.0)
// CHECK:      cpu.call @pad2d_edge(%{{.*}}) outs(%{{.*}}) params(C = 2, H = 14, W = 24, top = 1, left = 0, bottom = 2, right = 0, reflect = 1)
// CHECK:      cpu.call @pad2d_edge(%{{.*}}) outs(%{{.*}}) params(C = 2, H = 17, W = 24, top = 1, left = 0, bottom = 0, right = 0, reflect = 0)
// CHECK:      cpu.call @pad2d(%{{.*}}) outs(%{{.*}}) params(C = 2, H = 18, W = 24, top = 0, left = 0, bottom = 0, right = 0, value = 0.0)
// CHECK:      cpu.call @conv_transpose2d(%{{.*}}, %{{.*}}, %{{.*}}) outs(%{{.*}}) params(C = 4, H = 5, W = 7, K = 4, OH = 7, OW = 9, KH = 3, KW = 3, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1, groups = 4, activation = 0, alpha = 0.0, beta = 0.0)
