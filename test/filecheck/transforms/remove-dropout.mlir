// RUN: mnistc-opt %s -p remove-dropout | filecheck %s

// CHECK-LABEL: func.func @dropouts
// CHECK-NOT:     nn.dropout
// CHECK:         %[[R:.*]] = nn.relu %[[X:.*]] : tensor<1x10xf32>
// CHECK-NEXT:    %[[S:.*]] = nn.softmax %[[R]] dim 1
// CHECK-NEXT:    func.return %[[S]]
func.func @dropouts(%x: tensor<1x10xf32>) -> tensor<1x10xf32> {
  %0 = nn.dropout %x p 5.000000e-01 : tensor<1x10xf32>
  %1 = nn.relu %0 : tensor<1x10xf32>
  %2 = nn.dropout %1 p 2.500000e-01 : tensor<1x10xf32>
  %3 = nn.softmax %2 dim 1 : tensor<1x10xf32>
  func.return %3 : tensor<1x10xf32>
}

// CHECK-LABEL: func.func @returned
// CHECK-NEXT:    func.return %{{.*}} : tensor<1x10xf32>
func.func @returned(%x: tensor<1x10xf32>) -> tensor<1x10xf32> {
  %0 = nn.dropout %x p 5.000000e-01 : tensor<1x10xf32>
  func.return %0 : tensor<1x10xf32>
}
