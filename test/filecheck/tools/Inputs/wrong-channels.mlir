func.func @forward(%x: tensor<1x3x28x28xf32>) -> tensor<1x32x26x26xf32> {
  %w = nn.weight "w" offset 0 : tensor<32x1x3x3xf32>
  %0 = nn.conv2d %x, %w stride [1, 1] padding [0, 0] dilation [1, 1] groups 1 : tensor<1x3x28x28xf32>, tensor<32x1x3x3xf32> -> tensor<1x32x26x26xf32>
  func.return %0 : tensor<1x32x26x26xf32>
}
