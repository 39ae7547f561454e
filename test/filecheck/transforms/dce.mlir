// RUN: mnistc-opt %s -p dce | filecheck %s

// nn ops are Pure: xDSL's dce removes what does not reach the result.
// CHECK-LABEL: func.func @dead
// CHECK-NOT:     nn.weight "unused"
// CHECK-NOT:     nn.softmax
// CHECK:         nn.relu
// CHECK-NEXT:    func.return
func.func @dead(%x: tensor<1x10xf32>) -> tensor<1x10xf32> {
  %w = nn.weight "unused" offset 0 : tensor<10x10xf32>
  %0 = nn.linear %x, %w : tensor<1x10xf32>, tensor<10x10xf32> -> tensor<1x10xf32>
  %1 = nn.softmax %0 dim 1 : tensor<1x10xf32>
  %2 = nn.relu %x : tensor<1x10xf32>
  func.return %2 : tensor<1x10xf32>
}
