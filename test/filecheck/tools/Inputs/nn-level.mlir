func.func @forward(%x: tensor<1x10xf32>) -> tensor<1x10xf32> {
  %0 = nn.relu %x : tensor<1x10xf32>
  func.return %0 : tensor<1x10xf32>
}
