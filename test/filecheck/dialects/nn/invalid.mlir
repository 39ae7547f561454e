// RUN: mnistc-opt %s --split-input-file --verify-diagnostics | filecheck %s

func.func @wrong_channels(%x: tensor<1x3x28x28xf32>) -> tensor<1x32x26x26xf32> {
  %w = nn.weight "w" offset 0 : tensor<32x1x3x3xf32>
  %0 = nn.conv2d %x, %w stride [1, 1] padding [0, 0] dilation [1, 1] groups 1 : tensor<1x3x28x28xf32>, tensor<32x1x3x3xf32> -> tensor<1x32x26x26xf32>
  func.return %0 : tensor<1x32x26x26xf32>
}
// CHECK: weight expects 1 input channels, input has 3

// -----

func.func @wrong_result(%x: tensor<1x1x28x28xf32>) -> tensor<1x32x28x28xf32> {
  %w = nn.weight "w" offset 0 : tensor<32x1x3x3xf32>
  %0 = nn.conv2d %x, %w stride [1, 1] padding [0, 0] dilation [1, 1] groups 1 : tensor<1x1x28x28xf32>, tensor<32x1x3x3xf32> -> tensor<1x32x28x28xf32>
  func.return %0 : tensor<1x32x28x28xf32>
}
// CHECK: result shape [1, 32, 28, 28] does not match the expected [1, 32, 26, 26]

// -----

func.func @bad_bias(%x: tensor<1x1x28x28xf32>) -> tensor<1x32x26x26xf32> {
  %w = nn.weight "w" offset 0 : tensor<32x1x3x3xf32>
  %b = nn.weight "b" offset 0 : tensor<16xf32>
  %0 = nn.conv2d %x, %w bias %b stride [1, 1] padding [0, 0] dilation [1, 1] groups 1 : tensor<1x1x28x28xf32>, tensor<32x1x3x3xf32>, tensor<16xf32> -> tensor<1x32x26x26xf32>
  func.return %0 : tensor<1x32x26x26xf32>
}
// CHECK: bias shape [16] must be [32]

// -----

func.func @zero_stride(%x: tensor<1x1x28x28xf32>) -> tensor<1x32x26x26xf32> {
  %w = nn.weight "w" offset 0 : tensor<32x1x3x3xf32>
  %0 = nn.conv2d %x, %w stride [0, 1] padding [0, 0] dilation [1, 1] groups 1 : tensor<1x1x28x28xf32>, tensor<32x1x3x3xf32> -> tensor<1x32x26x26xf32>
  func.return %0 : tensor<1x32x26x26xf32>
}
// CHECK: stride must be two integers >= 1, got [0, 1]

// -----

func.func @bad_groups(%x: tensor<1x6x28x28xf32>) -> tensor<1x8x26x26xf32> {
  %w = nn.weight "w" offset 0 : tensor<8x2x3x3xf32>
  %0 = nn.conv2d %x, %w stride [1, 1] padding [0, 0] dilation [1, 1] groups 4 : tensor<1x6x28x28xf32>, tensor<8x2x3x3xf32> -> tensor<1x8x26x26xf32>
  func.return %0 : tensor<1x8x26x26xf32>
}
// CHECK: groups (4) must divide input channels (6) and output channels (8)

// -----

func.func @unknown_activation(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
  %w = nn.weight "w" offset 0 : tensor<2x4xf32>
  %0 = nn.linear %x, %w activation "swish" : tensor<1x4xf32>, tensor<2x4xf32> -> tensor<1x2xf32>
  func.return %0 : tensor<1x2xf32>
}
// CHECK: unknown activation 'swish' (supported: abs, celu, elu, exp, gelu, gelu_tanh, hardsigmoid, hardswish, hardtanh, leaky_relu, log, mish, neg, pow, reciprocal, relu, rsqrt, selu, sigmoid, silu, softplus, softsign, sqrt, tanh)

// -----

func.func @activation_params(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
  %w = nn.weight "w" offset 0 : tensor<2x4xf32>
  %0 = nn.linear %x, %w activation "leaky_relu" : tensor<1x4xf32>, tensor<2x4xf32> -> tensor<1x2xf32>
  func.return %0 : tensor<1x2xf32>
}
// CHECK: activation 'leaky_relu' takes 1 parameters, got 0

// -----

func.func @hardsigmoid_params(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
  %w = nn.weight "w" offset 0 : tensor<2x4xf32>
  %0 = nn.linear %x, %w activation "hardsigmoid" params [0.2] : tensor<1x4xf32>, tensor<2x4xf32> -> tensor<1x2xf32>
  func.return %0 : tensor<1x2xf32>
}
// CHECK: activation 'hardsigmoid' takes 2 parameters, got 1

// -----

func.func @residual_shape(%x: tensor<1x1x8x8xf32>, %r: tensor<1x4x5x5xf32>) -> tensor<1x4x6x6xf32> {
  %w = nn.weight "w" offset 0 : tensor<4x1x3x3xf32>
  %0 = nn.conv2d %x, %w residual %r stride [1, 1] padding [0, 0] dilation [1, 1] groups 1 : tensor<1x1x8x8xf32>, tensor<4x1x3x3xf32> residual tensor<1x4x5x5xf32> -> tensor<1x4x6x6xf32>
  func.return %0 : tensor<1x4x6x6xf32>
}
// CHECK: residual shape [1, 4, 5, 5] must be [1, 4, 6, 6]

// -----

func.func @hardtanh_bounds(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %0 = nn.hardtanh %x min 1.0 max -1.0 : tensor<1x4xf32>
  func.return %0 : tensor<1x4xf32>
}
// CHECK: hardtanh min must not exceed max

// -----

func.func @gelu_mode(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %0 = nn.gelu %x approximate "fast" : tensor<1x4xf32>
  func.return %0 : tensor<1x4xf32>
}
// CHECK: gelu approximate must be "none" or "tanh"

// -----

func.func @bn_params(%x: tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32> {
  %m = nn.weight "m" offset 0 : tensor<3xf32>
  %0 = nn.batch_norm %x mean %m var %m gamma %m beta %m eps 1.0e-05 : tensor<1x4x2x2xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32> -> tensor<1x4x2x2xf32>
  func.return %0 : tensor<1x4x2x2xf32>
}
// CHECK: batch_norm mean must have shape [4]

// -----

func.func @broadcast(%x: tensor<1x4x2x2xf32>, %y: tensor<1x3x1x1xf32>) -> tensor<1x4x2x2xf32> {
  %0 = nn.add %x, %y : tensor<1x4x2x2xf32>, tensor<1x3x1x1xf32> -> tensor<1x4x2x2xf32>
  func.return %0 : tensor<1x4x2x2xf32>
}
// CHECK: shapes [1, 4, 2, 2] and [1, 3, 1, 1] do not broadcast

// -----

func.func @concat_shapes(%x: tensor<1x4x2x2xf32>, %y: tensor<1x3x2x3xf32>) -> tensor<1x7x2x2xf32> {
  %0 = nn.concat %x, %y dim 1 : tensor<1x4x2x2xf32>, tensor<1x3x2x3xf32> -> tensor<1x7x2x2xf32>
  func.return %0 : tensor<1x7x2x2xf32>
}
// CHECK: concat inputs [[1, 4, 2, 2], [1, 3, 2, 3]] differ outside dim 1

// -----

func.func @avg_pool_shape(%x: tensor<1x4x5x5xf32>) -> tensor<1x4x2x2xf32> {
  %0 = nn.avg_pool2d %x kernel [2, 2] stride [2, 2] padding [0, 0] ceil_mode 1 count_include_pad 1 divisor 0 : tensor<1x4x5x5xf32> -> tensor<1x4x2x2xf32>
  func.return %0 : tensor<1x4x2x2xf32>
}
// CHECK: result shape [1, 4, 2, 2] does not match the expected [1, 4, 3, 3]

// -----

func.func @adaptive_shape(%x: tensor<1x4x5x5xf32>) -> tensor<1x3x1x1xf32> {
  %0 = nn.adaptive_avg_pool2d %x : tensor<1x4x5x5xf32> -> tensor<1x3x1x1xf32>
  func.return %0 : tensor<1x3x1x1xf32>
}
// CHECK: result [1, 3, 1, 1] must be [1, 4, OH >= 1, OW >= 1]

// -----

func.func @linear_features(%x: tensor<1x5xf32>) -> tensor<1x2xf32> {
  %w = nn.weight "w" offset 0 : tensor<2x4xf32>
  %0 = nn.linear %x, %w : tensor<1x5xf32>, tensor<2x4xf32> -> tensor<1x2xf32>
  func.return %0 : tensor<1x2xf32>
}
// CHECK: weight expects 4 input features, input has 5

// -----

func.func @pool_shape(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x3x3xf32> {
  %0 = nn.max_pool2d %x kernel [2, 2] stride [2, 2] padding [0, 0] dilation [1, 1] ceil_mode 0 : tensor<1x4x8x8xf32> -> tensor<1x4x3x3xf32>
  func.return %0 : tensor<1x4x3x3xf32>
}
// CHECK: result shape [1, 4, 3, 3] does not match the expected [1, 4, 4, 4]

// -----

func.func @pool_padding(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x5x5xf32> {
  %0 = nn.max_pool2d %x kernel [2, 2] stride [2, 2] padding [2, 2] dilation [1, 1] ceil_mode 0 : tensor<1x4x8x8xf32> -> tensor<1x4x5x5xf32>
  func.return %0 : tensor<1x4x5x5xf32>
}
// CHECK: padding must be at most half the kernel size

// -----

func.func @reshape_count(%x: tensor<1x4x8x8xf32>) -> tensor<1x255xf32> {
  %0 = nn.reshape %x : tensor<1x4x8x8xf32> -> tensor<1x255xf32>
  func.return %0 : tensor<1x255xf32>
}
// CHECK: reshape from [1, 4, 8, 8] to [1, 255] changes the number of elements

// -----

func.func @softmax_dim(%x: tensor<1x10xf32>) -> tensor<1x10xf32> {
  %0 = nn.softmax %x dim 2 : tensor<1x10xf32>
  func.return %0 : tensor<1x10xf32>
}
// CHECK: dim 2 out of range for rank 2 (use 0..1)

// -----

func.func @dropout_p(%x: tensor<1x10xf32>) -> tensor<1x10xf32> {
  %0 = nn.dropout %x p 1.500000e+00 : tensor<1x10xf32>
  func.return %0 : tensor<1x10xf32>
}
// CHECK: dropout probability 1.5 not in [0, 1]

// -----

func.func @weight_offset(%x: tensor<1x10xf32>) -> tensor<1x10xf32> {
  %w = nn.weight "w" offset 6 : tensor<10xf32>
  func.return %x : tensor<1x10xf32>
}
// CHECK: weight offset must be a non-negative multiple of 4

// -----

func.func @relu_types(%x: tensor<1x10xf32>) -> tensor<1x11xf32> {
  %0 = "nn.relu"(%x) : (tensor<1x10xf32>) -> tensor<1x11xf32>
  func.return %0 : tensor<1x11xf32>
}
// CHECK: attribute tensor<1x10xf32> expected from variable 'T', but got tensor<1x11xf32>

// -----

func.func @pad_shape(%x: tensor<1x2x3x3xf32>) -> tensor<1x2x4x4xf32> {
  %0 = nn.pad2d %x pads [1, 1, 1, 1] value 0.0 : tensor<1x2x3x3xf32> -> tensor<1x2x4x4xf32>
  func.return %0 : tensor<1x2x4x4xf32>
}
// CHECK: result shape [1, 2, 4, 4] does not match the expected [1, 2, 5, 5]

// -----

func.func @negative_dilation(%x: tensor<1x1x28x28xf32>) -> tensor<1x32x26x26xf32> {
  %w = nn.weight "w" offset 0 : tensor<32x1x3x3xf32>
  %0 = nn.conv2d %x, %w stride [1, 1] padding [0, 0] dilation [1, -1] groups 1 : tensor<1x1x28x28xf32>, tensor<32x1x3x3xf32> -> tensor<1x32x26x26xf32>
  func.return %0 : tensor<1x32x26x26xf32>
}
// CHECK: dilation must be two integers >= 1, got [1, -1]

// -----

func.func @zero_groups(%x: tensor<1x1x28x28xf32>) -> tensor<1x32x26x26xf32> {
  %w = nn.weight "w" offset 0 : tensor<32x1x3x3xf32>
  %0 = nn.conv2d %x, %w stride [1, 1] padding [0, 0] dilation [1, 1] groups 0 : tensor<1x1x28x28xf32>, tensor<32x1x3x3xf32> -> tensor<1x32x26x26xf32>
  func.return %0 : tensor<1x32x26x26xf32>
}
// CHECK: groups (0) must divide input channels (1) and output channels (32)

// -----

func.func @three_strides(%x: tensor<1x1x28x28xf32>) -> tensor<1x32x26x26xf32> {
  %w = nn.weight "w" offset 0 : tensor<32x1x3x3xf32>
  %0 = nn.conv2d %x, %w stride [1, 1, 1] padding [0, 0] dilation [1, 1] groups 1 : tensor<1x1x28x28xf32>, tensor<32x1x3x3xf32> -> tensor<1x32x26x26xf32>
  func.return %0 : tensor<1x32x26x26xf32>
}
// CHECK: stride must be two integers >= 1, got [1, 1, 1]

// -----

func.func @empty_kernel(%x: tensor<1x1x28x28xf32>) -> tensor<1x32x28x29xf32> {
  %w = nn.weight "w" offset 0 : tensor<32x1x0x0xf32>
  %0 = nn.conv2d %x, %w stride [1, 1] padding [0, 0] dilation [1, 1] groups 1 : tensor<1x1x28x28xf32>, tensor<32x1x0x0xf32> -> tensor<1x32x28x29xf32>
  func.return %0 : tensor<1x32x28x29xf32>
}
// CHECK: conv2d weight shape [32, 1, 0, 0] has an empty dimension

// -----

func.func @zero_pool_kernel(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32> {
  %0 = nn.max_pool2d %x kernel [0, 2] stride [2, 2] padding [0, 0] dilation [1, 1] ceil_mode 0 : tensor<1x4x8x8xf32> -> tensor<1x4x4x4xf32>
  func.return %0 : tensor<1x4x4x4xf32>
}
// CHECK: kernel must be two integers >= 1, got [0, 2]

// -----

func.func @zero_pool_dilation(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32> {
  %0 = nn.max_pool2d %x kernel [2, 2] stride [2, 2] padding [0, 0] dilation [0, 1] ceil_mode 0 : tensor<1x4x8x8xf32> -> tensor<1x4x4x4xf32>
  func.return %0 : tensor<1x4x4x4xf32>
}
// CHECK: dilation must be two integers >= 1, got [0, 1]

// -----

func.func @negative_avg_pool_stride(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32> {
  %0 = nn.avg_pool2d %x kernel [2, 2] stride [-2, 2] padding [0, 0] ceil_mode 0 count_include_pad 1 divisor 0 : tensor<1x4x8x8xf32> -> tensor<1x4x4x4xf32>
  func.return %0 : tensor<1x4x4x4xf32>
}
// CHECK: stride must be two integers >= 1, got [-2, 2]

// -----

func.func @negative_avg_pool_padding(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32> {
  %0 = nn.avg_pool2d %x kernel [2, 2] stride [2, 2] padding [0, -1] ceil_mode 0 count_include_pad 1 divisor 0 : tensor<1x4x8x8xf32> -> tensor<1x4x4x4xf32>
  func.return %0 : tensor<1x4x4x4xf32>
}
// CHECK: padding must be two integers >= 0, got [0, -1]

// -----

func.func @not_a_permutation(%x: tensor<1x4x6xf32>) -> tensor<1x4x6xf32> {
  %0 = nn.transpose %x permutation [0, 1, 1] : tensor<1x4x6xf32> -> tensor<1x4x6xf32>
  func.return %0 : tensor<1x4x6xf32>
}
// CHECK: permutation [0, 1, 1] is not a permutation of the 3 dimensions

// -----

func.func @wrong_transpose_result(%x: tensor<1x4x6xf32>) -> tensor<1x4x6xf32> {
  %0 = nn.transpose %x permutation [0, 2, 1] : tensor<1x4x6xf32> -> tensor<1x4x6xf32>
  func.return %0 : tensor<1x4x6xf32>
}
// CHECK: result shape [1, 4, 6] does not match the expected [1, 6, 4]

// -----

func.func @slice_past_the_end(%x: tensor<1x4x6xf32>) -> tensor<1x4x3xf32> {
  %0 = nn.slice %x offsets [0, 0, 2] strides [1, 1, 2] : tensor<1x4x6xf32> -> tensor<1x4x3xf32>
  func.return %0 : tensor<1x4x3xf32>
}
// CHECK: dim 2: 3 elements from 2 by 2 do not fit in 6

// -----

func.func @slice_zero_stride(%x: tensor<1x4x6xf32>) -> tensor<1x4x3xf32> {
  %0 = nn.slice %x offsets [0, 0, 0] strides [1, 1, 0] : tensor<1x4x6xf32> -> tensor<1x4x3xf32>
  func.return %0 : tensor<1x4x3xf32>
}
// CHECK: dim 2: 3 elements from 0 by 0 do not fit in 6

// -----

func.func @slice_rank(%x: tensor<1x4x6xf32>) -> tensor<1x4x3xf32> {
  %0 = nn.slice %x offsets [0, 0] strides [1, 1] : tensor<1x4x6xf32> -> tensor<1x4x3xf32>
  func.return %0 : tensor<1x4x3xf32>
}
// CHECK: slice of a rank-3 input needs 3 offsets, strides and result dimensions, got 2, 2 and 3

// -----

func.func @expand_not_one(%x: tensor<1x4x6xf32>) -> tensor<1x8x6xf32> {
  %0 = nn.expand %x : tensor<1x4x6xf32> -> tensor<1x8x6xf32>
  func.return %0 : tensor<1x8x6xf32>
}
// CHECK: cannot expand [1, 4, 6] to [1, 8, 6]
