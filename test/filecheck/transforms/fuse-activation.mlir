// RUN: mnistc-opt %s -p fuse-activation | filecheck %s

// CHECK-LABEL: func.func @conv_relu
// CHECK:         %[[C:.*]] = nn.conv2d %{{.*}}, %{{.*}} bias %{{.*}} stride [1, 1] padding [0, 0] dilation [1, 1] groups 1 activation "relu"
// CHECK-NOT:     nn.relu
// CHECK:         func.return %[[C]]
func.func @conv_relu(%x: tensor<1x1x8x8xf32>) -> tensor<1x4x6x6xf32> {
  %w = nn.weight "w" offset 0 : tensor<4x1x3x3xf32>
  %b = nn.weight "b" offset 256 : tensor<4xf32>
  %0 = nn.conv2d %x, %w bias %b stride [1, 1] padding [0, 0] dilation [1, 1] groups 1 : tensor<1x1x8x8xf32>, tensor<4x1x3x3xf32>, tensor<4xf32> -> tensor<1x4x6x6xf32>
  %1 = nn.relu %0 : tensor<1x4x6x6xf32>
  func.return %1 : tensor<1x4x6x6xf32>
}

// CHECK-LABEL: func.func @linear_relu
// CHECK:         %[[L:.*]] = nn.linear %{{.*}}, %{{.*}} activation "relu"
// CHECK-NOT:     nn.relu
// CHECK:         func.return %[[L]]
func.func @linear_relu(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
  %w = nn.weight "w" offset 0 : tensor<2x4xf32>
  %0 = nn.linear %x, %w : tensor<1x4xf32>, tensor<2x4xf32> -> tensor<1x2xf32>
  %1 = nn.relu %0 : tensor<1x2xf32>
  func.return %1 : tensor<1x2xf32>
}

// The conv result is also used unactivated: fusing would change that use.
// CHECK-LABEL: func.func @shared_producer
// CHECK:         %[[C:.*]] = nn.conv2d
// CHECK-NOT:     activation
// CHECK:         nn.relu %[[C]]
func.func @shared_producer(%x: tensor<1x1x8x8xf32>) -> tensor<1x4x6x6xf32> {
  %w = nn.weight "w" offset 0 : tensor<4x1x3x3xf32>
  %0 = nn.conv2d %x, %w stride [1, 1] padding [0, 0] dilation [1, 1] groups 1 : tensor<1x1x8x8xf32>, tensor<4x1x3x3xf32> -> tensor<1x4x6x6xf32>
  %1 = nn.relu %0 : tensor<1x4x6x6xf32>
  %2 = nn.softmax %0 dim 1 : tensor<1x4x6x6xf32>
  %3 = nn.softmax %1 dim 1 : tensor<1x4x6x6xf32>
  func.return %3 : tensor<1x4x6x6xf32>
}

// relu after something that cannot fuse stays; relu of relu fuses only once.
// CHECK-LABEL: func.func @not_fusable
// CHECK:         nn.max_pool2d
// CHECK-NEXT:    nn.relu
// CHECK:         nn.linear %{{.*}}, %{{.*}} activation "relu"
// CHECK-NEXT:    nn.relu
func.func @not_fusable(%x: tensor<1x1x8x8xf32>) -> tensor<1x2xf32> {
  %0 = nn.max_pool2d %x kernel [2, 2] stride [2, 2] padding [0, 0] dilation [1, 1] ceil_mode 0 : tensor<1x1x8x8xf32> -> tensor<1x1x4x4xf32>
  %1 = nn.relu %0 : tensor<1x1x4x4xf32>
  %2 = nn.reshape %1 : tensor<1x1x4x4xf32> -> tensor<1x16xf32>
  %w = nn.weight "w" offset 0 : tensor<2x16xf32>
  %3 = nn.linear %2, %w : tensor<1x16xf32>, tensor<2x16xf32> -> tensor<1x2xf32>
  %4 = nn.relu %3 : tensor<1x2xf32>
  %5 = nn.relu %4 : tensor<1x2xf32>
  func.return %5 : tensor<1x2xf32>
}

// decoders: a transposed convolution takes its activation too.
// CHECK-LABEL: func.func @conv_transpose_sigmoid
// CHECK:         %[[T:.*]] = nn.conv_transpose2d %{{.*}}, %{{.*}} bias %{{.*}} stride [2, 2] padding [1, 1] output_padding [1, 1] dilation [1, 1] groups 1 activation "sigmoid"
// CHECK-NOT:     nn.sigmoid
// CHECK:         func.return %[[T]]
func.func @conv_transpose_sigmoid(%x: tensor<1x4x3x3xf32>) -> tensor<1x2x6x6xf32> {
  %w = nn.weight "w" offset 0 : tensor<4x2x3x3xf32>
  %b = nn.weight "b" offset 320 : tensor<2xf32>
  %0 = nn.conv_transpose2d %x, %w bias %b stride [2, 2] padding [1, 1] output_padding [1, 1] dilation [1, 1] groups 1 : tensor<1x4x3x3xf32>, tensor<4x2x3x3xf32>, tensor<2xf32> -> tensor<1x2x6x6xf32>
  %1 = nn.sigmoid %0 : tensor<1x2x6x6xf32>
  func.return %1 : tensor<1x2x6x6xf32>
}
