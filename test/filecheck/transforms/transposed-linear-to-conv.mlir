// RUN: mnistc-opt %s -p transposed-linear-to-conv,canonicalize | filecheck %s

// A token MLP (MLP-Mixer): transpose, linear with GELU, linear, transpose back. Both
// linears become 1x1 convolutions on the untransposed tokens, the GELU stays fused and
// no transpose is left.
// CHECK-LABEL: func.func @token_mlp
// CHECK-NOT:     nn.transpose
// CHECK:         %[[X:.*]] = nn.reshape %x : tensor<1x6x4xf32> -> tensor<1x6x1x4xf32>
// CHECK:         %[[W1:.*]] = nn.weight "w1" offset 0 : tensor<3x6x1x1xf32>
// CHECK:         %[[C1:.*]] = nn.conv2d %[[X]], %[[W1]] bias %b1 {{.*}} activation "gelu_tanh" : tensor<1x6x1x4xf32>, tensor<3x6x1x1xf32>, tensor<3xf32> -> tensor<1x3x1x4xf32>
// CHECK:         %[[W2:.*]] = nn.weight "w2" offset 96 : tensor<6x3x1x1xf32>
// CHECK:         %[[C2:.*]] = nn.conv2d %[[C1]], %[[W2]] bias %b2 {{.*}} -> tensor<1x6x1x4xf32>
// CHECK-NOT:     nn.transpose
// CHECK:         %[[Y:.*]] = nn.reshape %[[C2]] : tensor<1x6x1x4xf32> -> tensor<1x6x4xf32>
// CHECK:         func.return %[[Y]]
func.func @token_mlp(%x: tensor<1x6x4xf32>) -> tensor<1x6x4xf32> {
  %w1 = nn.weight "w1" offset 0 : tensor<3x6xf32>
  %b1 = nn.weight "b1" offset 72 : tensor<3xf32>
  %w2 = nn.weight "w2" offset 96 : tensor<6x3xf32>
  %b2 = nn.weight "b2" offset 168 : tensor<6xf32>
  %0 = nn.transpose %x permutation [0, 2, 1] : tensor<1x6x4xf32> -> tensor<1x4x6xf32>
  %1 = nn.reshape %0 : tensor<1x4x6xf32> -> tensor<4x6xf32>
  %2 = nn.linear %1, %w1 bias %b1 activation "gelu_tanh" : tensor<4x6xf32>, tensor<3x6xf32>, tensor<3xf32> -> tensor<4x3xf32>
  %3 = nn.linear %2, %w2 bias %b2 : tensor<4x3xf32>, tensor<6x3xf32>, tensor<6xf32> -> tensor<4x6xf32>
  %4 = nn.reshape %3 : tensor<4x6xf32> -> tensor<1x4x6xf32>
  %5 = nn.transpose %4 permutation [0, 2, 1] : tensor<1x4x6xf32> -> tensor<1x6x4xf32>
  func.return %5 : tensor<1x6x4xf32>
}

// A single linear on transposed tokens: its result is transposed back to the [D, H]
// the function returns (one transpose, of the result, instead of one of the input).
// CHECK-LABEL: func.func @result_used_transposed
// CHECK:         %[[C:.*]] = nn.conv2d {{.*}} -> tensor<1x3x1x4xf32>
// CHECK:         %[[R:.*]] = nn.reshape %[[C]] : tensor<1x3x1x4xf32> -> tensor<1x3x4xf32>
// CHECK:         %[[T:.*]] = nn.transpose %[[R]] permutation [0, 2, 1] : tensor<1x3x4xf32> -> tensor<1x4x3xf32>
// CHECK:         %[[Y:.*]] = nn.reshape %[[T]] : tensor<1x4x3xf32> -> tensor<4x3xf32>
// CHECK:         func.return %[[Y]]
func.func @result_used_transposed(%x: tensor<1x6x4xf32>) -> tensor<4x3xf32> {
  %w = nn.weight "w" offset 0 : tensor<3x6xf32>
  %0 = nn.transpose %x permutation [0, 2, 1] : tensor<1x6x4xf32> -> tensor<1x4x6xf32>
  %1 = nn.reshape %0 : tensor<1x4x6xf32> -> tensor<4x6xf32>
  %2 = nn.linear %1, %w : tensor<4x6xf32>, tensor<3x6xf32> -> tensor<4x3xf32>
  func.return %2 : tensor<4x3xf32>
}

// Not rewritten: a linear on untransposed tokens, one on another permutation, and one
// whose weight is computed at run time.
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT:     nn.conv2d
// CHECK-COUNT-3: nn.linear
// CHECK-NOT:     nn.conv2d
func.func @left_alone(%x: tensor<1x6x4xf32>, %y: tensor<2x4x6xf32>, %w3: tensor<3x6xf32>) -> (tensor<6x3xf32>, tensor<8x3xf32>, tensor<4x3xf32>) {
  %w = nn.weight "w" offset 0 : tensor<3x4xf32>
  %w2 = nn.weight "w2" offset 48 : tensor<3x6xf32>
  %0 = nn.reshape %x : tensor<1x6x4xf32> -> tensor<6x4xf32>
  %1 = nn.linear %0, %w : tensor<6x4xf32>, tensor<3x4xf32> -> tensor<6x3xf32>
  %2 = nn.transpose %y permutation [1, 0, 2] : tensor<2x4x6xf32> -> tensor<4x2x6xf32>
  %3 = nn.reshape %2 : tensor<4x2x6xf32> -> tensor<8x6xf32>
  %4 = nn.linear %3, %w2 : tensor<8x6xf32>, tensor<3x6xf32> -> tensor<8x3xf32>
  %5 = nn.transpose %x permutation [0, 2, 1] : tensor<1x6x4xf32> -> tensor<1x4x6xf32>
  %6 = nn.reshape %5 : tensor<1x4x6xf32> -> tensor<4x6xf32>
  %7 = nn.linear %6, %w3 : tensor<4x6xf32>, tensor<3x6xf32> -> tensor<4x3xf32>
  func.return %1, %4, %7 : tensor<6x3xf32>, tensor<8x3xf32>, tensor<4x3xf32>
}
