// RUN: mnistc-opt %s --split-input-file --verify-diagnostics | filecheck %s

func.func @transpose_wrong_result(%x: tensor<1x4x5x5xf32>) -> tensor<1x2x10x10xf32> {
  %w = nn.weight "w" offset 0 : tensor<4x2x3x3xf32>
  %0 = nn.conv_transpose2d %x, %w stride [2, 2] padding [1, 1] output_padding [0, 0] dilation [1, 1] groups 1 : tensor<1x4x5x5xf32>, tensor<4x2x3x3xf32> -> tensor<1x2x10x10xf32>
  func.return %0 : tensor<1x2x10x10xf32>
}
// CHECK: result shape [1, 2, 10, 10] does not match the expected [1, 2, 9, 9]

// -----

func.func @transpose_wrong_channels(%x: tensor<1x3x5x5xf32>) -> tensor<1x2x7x7xf32> {
  %w = nn.weight "w" offset 0 : tensor<4x2x3x3xf32>
  %0 = nn.conv_transpose2d %x, %w stride [1, 1] padding [0, 0] output_padding [0, 0] dilation [1, 1] groups 1 : tensor<1x3x5x5xf32>, tensor<4x2x3x3xf32> -> tensor<1x2x7x7xf32>
  func.return %0 : tensor<1x2x7x7xf32>
}
// CHECK: weight expects 4 input channels, input has 3

// -----

func.func @transpose_groups(%x: tensor<1x4x5x5xf32>) -> tensor<1x6x7x7xf32> {
  %w = nn.weight "w" offset 0 : tensor<4x2x3x3xf32>
  %0 = nn.conv_transpose2d %x, %w stride [1, 1] padding [0, 0] output_padding [0, 0] dilation [1, 1] groups 3 : tensor<1x4x5x5xf32>, tensor<4x2x3x3xf32> -> tensor<1x6x7x7xf32>
  func.return %0 : tensor<1x6x7x7xf32>
}
// CHECK: groups (3) must divide input channels (4)

// -----

func.func @transpose_stride(%x: tensor<1x4x5x5xf32>) -> tensor<1x2x7x7xf32> {
  %w = nn.weight "w" offset 0 : tensor<4x2x3x3xf32>
  %0 = nn.conv_transpose2d %x, %w stride [0, 1] padding [0, 0] output_padding [0, 0] dilation [1, 1] groups 1 : tensor<1x4x5x5xf32>, tensor<4x2x3x3xf32> -> tensor<1x2x7x7xf32>
  func.return %0 : tensor<1x2x7x7xf32>
}
// CHECK: stride must be two integers >= 1, got [0, 1]

// -----

func.func @transpose_cropped_away(%x: tensor<1x4x1x1xf32>) -> tensor<1x2x1x1xf32> {
  %w = nn.weight "w" offset 0 : tensor<4x2x1x1xf32>
  %0 = nn.conv_transpose2d %x, %w stride [1, 1] padding [1, 1] output_padding [0, 0] dilation [1, 1] groups 1 : tensor<1x4x1x1xf32>, tensor<4x2x1x1xf32> -> tensor<1x2x1x1xf32>
  func.return %0 : tensor<1x2x1x1xf32>
}
// CHECK: padding leaves an empty output [1, 2, -1, -1]

// -----

func.func @resize_mode(%x: tensor<1x2x3x3xf32>) -> tensor<1x2x6x6xf32> {
  %0 = nn.resize2d %x mode "cubic" scale [0.5, 0.5] shift [0.0, 0.0] offset [0.0, 0.0] : tensor<1x2x3x3xf32> -> tensor<1x2x6x6xf32>
  func.return %0 : tensor<1x2x6x6xf32>
}
// CHECK: resize mode 'cubic' (supported: nearest_floor, nearest_ceil, nearest_round_prefer_floor, nearest_round_prefer_ceil, linear)

// -----

func.func @resize_channels(%x: tensor<1x2x3x3xf32>) -> tensor<1x3x6x6xf32> {
  %0 = nn.resize2d %x mode "linear" scale [0.5, 0.5] shift [0.0, 0.0] offset [0.0, 0.0] : tensor<1x2x3x3xf32> -> tensor<1x3x6x6xf32>
  func.return %0 : tensor<1x3x6x6xf32>
}
// CHECK: result [1, 3, 6, 6] must be [1, 2, OH >= 1, OW >= 1]

// -----

func.func @resize_scale(%x: tensor<1x2x3x3xf32>) -> tensor<1x2x6x6xf32> {
  %0 = nn.resize2d %x mode "linear" scale [0.5] shift [0.0, 0.0] offset [0.0, 0.0] : tensor<1x2x3x3xf32> -> tensor<1x2x6x6xf32>
  func.return %0 : tensor<1x2x6x6xf32>
}
// CHECK: scale must be two finite numbers, got [0.5]

// -----

func.func @reflect_too_wide(%x: tensor<1x2x3x3xf32>) -> tensor<1x2x3x9xf32> {
  %0 = nn.pad2d %x pads [0, 3, 0, 3] mode "reflect" value 0.0 : tensor<1x2x3x3xf32> -> tensor<1x2x3x9xf32>
  func.return %0 : tensor<1x2x3x9xf32>
}
// CHECK: reflect padding [0, 3, 0, 3] must be smaller than the input's H and W (3, 3)

// -----

func.func @pad_mode(%x: tensor<1x2x3x3xf32>) -> tensor<1x2x3x5xf32> {
  %0 = nn.pad2d %x pads [0, 1, 0, 1] mode "circular" value 0.0 : tensor<1x2x3x3xf32> -> tensor<1x2x3x5xf32>
  func.return %0 : tensor<1x2x3x5xf32>
}
// CHECK: pad mode 'circular' (supported: constant, reflect, replicate)

// -----

func.func @resize_divide_by_zero(%x: tensor<1x2x3x3xf32>) -> tensor<1x2x6x6xf32> {
  %0 = nn.resize2d %x mode "linear" divide scale [2.0, 0.0] shift [0.0, 0.0] offset [0.0, 0.0] : tensor<1x2x3x3xf32> -> tensor<1x2x6x6xf32>
  func.return %0 : tensor<1x2x6x6xf32>
}
// CHECK: a scale that divides must not be 0
