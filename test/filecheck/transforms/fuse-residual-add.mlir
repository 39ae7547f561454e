// RUN: mnistc-opt %s -p fuse-residual-add | filecheck %s
// RUN: mnistc-opt %s -p fuse-residual-add,fuse-activation | filecheck %s --check-prefix=BLOCK

// relu(conv(x) + x): the add becomes the conv's residual, then relu its activation.
// CHECK-LABEL: func.func @basic_block
// CHECK:         %[[C:.*]] = nn.conv2d %[[X:.*]], %{{.*}} residual %[[X]] stride [1, 1]
// CHECK-NOT:     nn.add
// CHECK:         nn.relu %[[C]]
// BLOCK-LABEL: func.func @basic_block
// BLOCK:         nn.conv2d %[[X:.*]], %{{.*}} residual %[[X]] {{.*}} activation "relu"
// BLOCK-NEXT:    func.return
func.func @basic_block(%x: tensor<1x4x6x6xf32>) -> tensor<1x4x6x6xf32> {
  %w = nn.weight "w" offset 0 : tensor<4x4x3x3xf32>
  %0 = nn.conv2d %x, %w stride [1, 1] padding [1, 1] dilation [1, 1] groups 1 : tensor<1x4x6x6xf32>, tensor<4x4x3x3xf32> -> tensor<1x4x6x6xf32>
  %1 = nn.add %x, %0 : tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32> -> tensor<1x4x6x6xf32>
  %2 = nn.relu %1 : tensor<1x4x6x6xf32>
  func.return %2 : tensor<1x4x6x6xf32>
}

// Not fused: the conv already has an activation (act(conv) + r != act(conv + r)),
// and a broadcasting add.
// CHECK-LABEL: func.func @not_fusable
// CHECK:         nn.add
// CHECK:         nn.add
// BLOCK-LABEL: func.func @not_fusable
func.func @not_fusable(%x: tensor<1x4x6x6xf32>, %s: tensor<4x1x1xf32>) -> tensor<1x4x6x6xf32> {
  %w = nn.weight "w" offset 0 : tensor<4x4x3x3xf32>
  %0 = nn.conv2d %x, %w stride [1, 1] padding [1, 1] dilation [1, 1] groups 1 activation "relu" : tensor<1x4x6x6xf32>, tensor<4x4x3x3xf32> -> tensor<1x4x6x6xf32>
  %1 = nn.add %0, %x : tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32> -> tensor<1x4x6x6xf32>
  %2 = nn.conv2d %1, %w stride [1, 1] padding [1, 1] dilation [1, 1] groups 1 : tensor<1x4x6x6xf32>, tensor<4x4x3x3xf32> -> tensor<1x4x6x6xf32>
  %3 = nn.add %2, %s : tensor<1x4x6x6xf32>, tensor<4x1x1xf32> -> tensor<1x4x6x6xf32>
  func.return %3 : tensor<1x4x6x6xf32>
}
