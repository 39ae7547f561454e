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
