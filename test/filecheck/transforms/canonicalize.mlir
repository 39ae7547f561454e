// RUN: mnistc-opt %s -p canonicalize | filecheck %s

// CHECK-LABEL: func.func @reshapes
// CHECK-NEXT:    %[[R:.*]] = nn.reshape %{{.*}} : tensor<1x2x3x4xf32> -> tensor<1x24xf32>
// CHECK-NEXT:    func.return %[[R]] : tensor<1x24xf32>
func.func @reshapes(%x: tensor<1x2x3x4xf32>) -> tensor<1x24xf32> {
  %0 = nn.reshape %x : tensor<1x2x3x4xf32> -> tensor<1x6x4xf32>
  %1 = nn.reshape %0 : tensor<1x6x4xf32> -> tensor<1x24xf32>
  %2 = nn.reshape %1 : tensor<1x24xf32> -> tensor<1x24xf32>
  func.return %2 : tensor<1x24xf32>
}

// CHECK-LABEL: func.func @round_trip
// CHECK-NEXT:    func.return %{{.*}} : tensor<1x24xf32>
func.func @round_trip(%x: tensor<1x24xf32>) -> tensor<1x24xf32> {
  %0 = nn.reshape %x : tensor<1x24xf32> -> tensor<1x4x6xf32>
  %1 = nn.reshape %0 : tensor<1x4x6xf32> -> tensor<1x24xf32>
  func.return %1 : tensor<1x24xf32>
}

// x * sigmoid(x), as ONNX exports SiLU, in either order: one nn.silu.
// CHECK-LABEL: func.func @swish
// CHECK-NEXT:    %[[S:.*]] = nn.silu %x : tensor<1x4x3x3xf32>
// CHECK-NEXT:    %[[T:.*]] = nn.silu %[[S]] : tensor<1x4x3x3xf32>
// CHECK-NEXT:    func.return %[[T]] : tensor<1x4x3x3xf32>
func.func @swish(%x: tensor<1x4x3x3xf32>) -> tensor<1x4x3x3xf32> {
  %0 = nn.sigmoid %x : tensor<1x4x3x3xf32>
  %1 = nn.mul %x, %0 : tensor<1x4x3x3xf32>, tensor<1x4x3x3xf32> -> tensor<1x4x3x3xf32>
  %2 = nn.sigmoid %1 : tensor<1x4x3x3xf32>
  %3 = nn.mul %2, %1 : tensor<1x4x3x3xf32>, tensor<1x4x3x3xf32> -> tensor<1x4x3x3xf32>
  func.return %3 : tensor<1x4x3x3xf32>
}

// A gate of another value stays a product.
// CHECK-LABEL: func.func @not_swish
// CHECK:         nn.mul
// CHECK:         nn.mul
// CHECK-NOT:     nn.silu
func.func @not_swish(%x: tensor<1x4x3x3xf32>, %y: tensor<1x4x3x3xf32>, %c: tensor<1x4x1x1xf32>) -> tensor<1x4x3x3xf32> {
  %0 = nn.sigmoid %y : tensor<1x4x3x3xf32>
  %1 = nn.mul %x, %0 : tensor<1x4x3x3xf32>, tensor<1x4x3x3xf32> -> tensor<1x4x3x3xf32>
  %2 = nn.sigmoid %1 : tensor<1x4x3x3xf32>
  %3 = nn.mul %c, %2 : tensor<1x4x1x1xf32>, tensor<1x4x3x3xf32> -> tensor<1x4x3x3xf32>
  func.return %3 : tensor<1x4x3x3xf32>
}

// decoders: a 1-D layer imported between views ([N, C, L] <-> [N, C, 1, L]): the batch
// norm and the activation after the view move before it, next to the convolution, and
// the two views cancel.
// CHECK-LABEL: func.func @one_d_layer
// CHECK-NEXT:    %[[W:.*]] = nn.weight "w" offset 0 : tensor<4x3x1x3xf32>
// CHECK-NEXT:    %[[M:.*]] = nn.weight "m" offset 192 : tensor<4xf32>
// CHECK-NEXT:    %[[X:.*]] = nn.reshape %x : tensor<1x3x10xf32> -> tensor<1x3x1x10xf32>
// CHECK-NEXT:    %[[C:.*]] = nn.conv2d %[[X]], %[[W]] stride [1, 1] padding [0, 0] dilation [1, 1] groups 1 : tensor<1x3x1x10xf32>, tensor<4x3x1x3xf32> -> tensor<1x4x1x8xf32>
// CHECK-NEXT:    %[[B:.*]] = nn.batch_norm %[[C]] mean %[[M]] var %[[M]] gamma %[[M]] beta %[[M]] eps 1.000000e-05 : tensor<1x4x1x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32> -> tensor<1x4x1x8xf32>
// CHECK-NEXT:    %[[R:.*]] = nn.relu %[[B]] : tensor<1x4x1x8xf32>
// CHECK-NEXT:    %[[P:.*]] = nn.max_pool2d %[[R]] kernel [1, 2] stride [1, 2] padding [0, 0] dilation [1, 1] ceil_mode 0 : tensor<1x4x1x8xf32> -> tensor<1x4x1x4xf32>
// CHECK-NEXT:    %[[Y:.*]] = nn.reshape %[[P]] : tensor<1x4x1x4xf32> -> tensor<1x4x4xf32>
// CHECK-NEXT:    func.return %[[Y]] : tensor<1x4x4xf32>
func.func @one_d_layer(%x: tensor<1x3x10xf32>) -> tensor<1x4x4xf32> {
  %w = nn.weight "w" offset 0 : tensor<4x3x1x3xf32>
  %m = nn.weight "m" offset 192 : tensor<4xf32>
  %0 = nn.reshape %x : tensor<1x3x10xf32> -> tensor<1x3x1x10xf32>
  %1 = nn.conv2d %0, %w stride [1, 1] padding [0, 0] dilation [1, 1] groups 1 : tensor<1x3x1x10xf32>, tensor<4x3x1x3xf32> -> tensor<1x4x1x8xf32>
  %2 = nn.reshape %1 : tensor<1x4x1x8xf32> -> tensor<1x4x8xf32>
  %3 = nn.batch_norm %2 mean %m var %m gamma %m beta %m eps 1.0e-05 : tensor<1x4x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32> -> tensor<1x4x8xf32>
  %4 = nn.relu %3 : tensor<1x4x8xf32>
  %5 = nn.reshape %4 : tensor<1x4x8xf32> -> tensor<1x4x1x8xf32>
  %6 = nn.max_pool2d %5 kernel [1, 2] stride [1, 2] padding [0, 0] dilation [1, 1] ceil_mode 0 : tensor<1x4x1x8xf32> -> tensor<1x4x1x4xf32>
  %7 = nn.reshape %6 : tensor<1x4x1x4xf32> -> tensor<1x4x4xf32>
  func.return %7 : tensor<1x4x4xf32>
}

// A view used twice stays where it is.
// CHECK-LABEL: func.func @shared_view
// CHECK-NEXT:    %[[V:.*]] = nn.reshape %x : tensor<1x4x1x8xf32> -> tensor<1x4x8xf32>
// CHECK-NEXT:    %[[R:.*]] = nn.relu %[[V]] : tensor<1x4x8xf32>
// CHECK-NEXT:    %[[A:.*]] = nn.add %[[R]], %[[V]]
func.func @shared_view(%x: tensor<1x4x1x8xf32>) -> tensor<1x4x8xf32> {
  %0 = nn.reshape %x : tensor<1x4x1x8xf32> -> tensor<1x4x8xf32>
  %1 = nn.relu %0 : tensor<1x4x8xf32>
  %2 = nn.add %1, %0 : tensor<1x4x8xf32>, tensor<1x4x8xf32> -> tensor<1x4x8xf32>
  func.return %2 : tensor<1x4x8xf32>
}
