func.func @forward(%x: tensor<1x3x28x28xf32>) -> tensor<1x32x26x26xf32> {
  %0 = nn.relu %x : tensor<1x3x28x28xf32
}
