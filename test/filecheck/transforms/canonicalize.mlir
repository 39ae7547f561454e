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
