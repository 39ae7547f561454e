// RUN: mnistc-opt %s --split-input-file --verify-diagnostics | filecheck %s

func.func @zero_scale(%x: tensor<1x4xf32>) -> tensor<1x4xi8> {
  %0 = nn.quantize %x scale 0.0 zero_point 0 : tensor<1x4xf32> -> tensor<1x4xi8>
  func.return %0 : tensor<1x4xi8>
}
// CHECK: quantize scale must be positive and finite, got 0.0

// -----

func.func @zero_point_range(%x: tensor<1x4xi8>) -> tensor<1x4xf32> {
  %0 = nn.dequantize %x scale 0.5 zero_point 128 : tensor<1x4xi8> -> tensor<1x4xf32>
  func.return %0 : tensor<1x4xf32>
}
// CHECK: dequantize zero point 128 outside [-128, 127]

// -----

func.func @quantize_shape(%x: tensor<1x4xf32>) -> tensor<1x5xi8> {
  %0 = nn.quantize %x scale 0.5 zero_point 0 : tensor<1x4xf32> -> tensor<1x5xi8>
  func.return %0 : tensor<1x5xi8>
}
// CHECK: result shape [1, 5] does not match the expected [1, 4]

// -----

func.func @quantize_to_i32(%x: tensor<1x4xf32>) -> tensor<1x4xi32> {
  %0 = nn.quantize %x scale 0.5 zero_point 0 : tensor<1x4xf32> -> tensor<1x4xi32>
  func.return %0 : tensor<1x4xi32>
}
// CHECK: i32

// -----

func.func @float_input(%x: tensor<1x4xf32>) -> tensor<1x3xi8> {
  %w = nn.weight "w" offset 0 : tensor<3x4xi8>
  %s = nn.weight "s" offset 64 : tensor<3xf32>
  %0 = nn.qlinear %x, %w scales %s input_scale 0.5 input_zero_point 0 output_scale 0.5 output_zero_point 0 : tensor<1x4xf32>, tensor<3x4xi8>, tensor<3xf32> -> tensor<1x3xi8>
  func.return %0 : tensor<1x3xi8>
}
// CHECK: f32

// -----

func.func @scale_per_channel(%x: tensor<1x4xi8>) -> tensor<1x3xi8> {
  %w = nn.weight "w" offset 0 : tensor<3x4xi8>
  %s = nn.weight "s" offset 64 : tensor<4xf32>
  %0 = nn.qlinear %x, %w scales %s input_scale 0.5 input_zero_point 0 output_scale 0.5 output_zero_point 0 : tensor<1x4xi8>, tensor<3x4xi8>, tensor<4xf32> -> tensor<1x3xi8>
  func.return %0 : tensor<1x3xi8>
}
// CHECK: weight_scale shape [4] must be [3]

// -----

func.func @qlinear_features(%x: tensor<1x5xi8>) -> tensor<1x3xi8> {
  %w = nn.weight "w" offset 0 : tensor<3x4xi8>
  %s = nn.weight "s" offset 64 : tensor<3xf32>
  %0 = nn.qlinear %x, %w scales %s input_scale 0.5 input_zero_point 0 output_scale 0.5 output_zero_point 0 : tensor<1x5xi8>, tensor<3x4xi8>, tensor<3xf32> -> tensor<1x3xi8>
  func.return %0 : tensor<1x3xi8>
}
// CHECK: weight expects 4 input features, input has 5

// -----

func.func @float_bias(%x: tensor<1x4xi8>) -> tensor<1x3xi8> {
  %w = nn.weight "w" offset 0 : tensor<3x4xi8>
  %s = nn.weight "s" offset 64 : tensor<3xf32>
  %b = nn.weight "b" offset 128 : tensor<3xf32>
  %0 = nn.qlinear %x, %w scales %s bias %b input_scale 0.5 input_zero_point 0 output_scale 0.5 output_zero_point 0 : tensor<1x4xi8>, tensor<3x4xi8>, tensor<3xf32>, tensor<3xf32> -> tensor<1x3xi8>
  func.return %0 : tensor<1x3xi8>
}
// CHECK: i32

// -----

func.func @sigmoid_fused(%x: tensor<1x4xi8>) -> tensor<1x3xi8> {
  %w = nn.weight "w" offset 0 : tensor<3x4xi8>
  %s = nn.weight "s" offset 64 : tensor<3xf32>
  %0 = nn.qlinear %x, %w scales %s input_scale 0.5 input_zero_point 0 output_scale 0.5 output_zero_point 0 activation "sigmoid" : tensor<1x4xi8>, tensor<3x4xi8>, tensor<3xf32> -> tensor<1x3xi8>
  func.return %0 : tensor<1x3xi8>
}
// CHECK: a quantized layer fuses only relu or hardtanh, got 'sigmoid'

// -----

func.func @input_scale_negative(%x: tensor<1x1x4x4xi8>) -> tensor<1x2x2x2xi8> {
  %w = nn.weight "w" offset 0 : tensor<2x1x3x3xi8>
  %s = nn.weight "s" offset 64 : tensor<2xf32>
  %0 = nn.qconv2d %x, %w scales %s input_scale -0.5 input_zero_point 0 output_scale 0.5 output_zero_point 0 stride [1, 1] padding [0, 0] dilation [1, 1] groups 1 : tensor<1x1x4x4xi8>, tensor<2x1x3x3xi8>, tensor<2xf32> -> tensor<1x2x2x2xi8>
  func.return %0 : tensor<1x2x2x2xi8>
}
// CHECK: input scale must be positive and finite, got -0.5

// -----

func.func @qconv_channels(%x: tensor<1x3x4x4xi8>) -> tensor<1x2x2x2xi8> {
  %w = nn.weight "w" offset 0 : tensor<2x1x3x3xi8>
  %s = nn.weight "s" offset 64 : tensor<2xf32>
  %0 = nn.qconv2d %x, %w scales %s input_scale 0.5 input_zero_point 0 output_scale 0.5 output_zero_point 0 stride [1, 1] padding [0, 0] dilation [1, 1] groups 1 : tensor<1x3x4x4xi8>, tensor<2x1x3x3xi8>, tensor<2xf32> -> tensor<1x2x2x2xi8>
  func.return %0 : tensor<1x2x2x2xi8>
}
// CHECK: weight expects 1 input channels, input has 3

// -----

func.func @qconv_result(%x: tensor<1x1x4x4xi8>) -> tensor<1x2x4x4xi8> {
  %w = nn.weight "w" offset 0 : tensor<2x1x3x3xi8>
  %s = nn.weight "s" offset 64 : tensor<2xf32>
  %0 = nn.qconv2d %x, %w scales %s input_scale 0.5 input_zero_point 0 output_scale 0.5 output_zero_point 0 stride [1, 1] padding [0, 0] dilation [1, 1] groups 1 : tensor<1x1x4x4xi8>, tensor<2x1x3x3xi8>, tensor<2xf32> -> tensor<1x2x4x4xi8>
  func.return %0 : tensor<1x2x4x4xi8>
}
// CHECK: result shape [1, 2, 4, 4] does not match the expected [1, 2, 2, 2]

// -----

func.func @pool_changes_type(%x: tensor<1x1x4x4xi8>) -> tensor<1x1x2x2xf32> {
  %0 = nn.max_pool2d %x kernel [2, 2] stride [2, 2] padding [0, 0] dilation [1, 1] ceil_mode 0 : tensor<1x1x4x4xi8> -> tensor<1x1x2x2xf32>
  func.return %0 : tensor<1x1x2x2xf32>
}
// CHECK: result element type f32 differs from the input's i8

// -----

func.func @reshape_changes_type(%x: tensor<1x4xf32>) -> tensor<4xi8> {
  %0 = nn.reshape %x : tensor<1x4xf32> -> tensor<4xi8>
  func.return %0 : tensor<4xi8>
}
// CHECK: result element type i8 differs from the input's f32

// -----

func.func @avg_pool_int8(%x: tensor<1x1x4x4xi8>) -> tensor<1x1x2x2xi8> {
  %0 = nn.avg_pool2d %x kernel [2, 2] stride [2, 2] padding [0, 0] ceil_mode 0 count_include_pad 1 divisor 0 : tensor<1x1x4x4xi8> -> tensor<1x1x2x2xi8>
  func.return %0 : tensor<1x1x2x2xi8>
}
// CHECK: f32
