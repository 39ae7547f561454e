// RUN: mnistc-opt %s | mnistc-opt | filecheck %s
// RUN: mnistc-opt %s --print-op-generic | mnistc-opt | filecheck %s

// Every nn op, in custom form and after a round trip through the generic form.

func.func @forward(%x: tensor<1x1x28x28xf32>) -> tensor<1x10xf32> {
  %w = nn.weight "conv1.weight" offset 0 : tensor<8x1x3x3xf32>
  %b = nn.weight "conv1.bias" offset 320 : tensor<8xf32>
  %0 = nn.conv2d %x, %w bias %b stride [1, 1] padding [1, 1] dilation [1, 1] groups 1 activation "relu" : tensor<1x1x28x28xf32>, tensor<8x1x3x3xf32>, tensor<8xf32> -> tensor<1x8x28x28xf32>
  %dw = nn.weight "dw.weight" offset 384 : tensor<8x1x3x3xf32>
  %1 = nn.conv2d %0, %dw stride [2, 2] padding [0, 0] dilation [2, 2] groups 8 : tensor<1x8x28x28xf32>, tensor<8x1x3x3xf32> -> tensor<1x8x12x12xf32>
  %2 = nn.relu %1 : tensor<1x8x12x12xf32>
  %3 = nn.max_pool2d %2 kernel [3, 3] stride [2, 2] padding [1, 1] dilation [1, 1] ceil_mode 1 : tensor<1x8x12x12xf32> -> tensor<1x8x7x7xf32>
  %4 = nn.dropout %3 p 2.500000e-01 : tensor<1x8x7x7xf32>
  %5 = nn.reshape %4 : tensor<1x8x7x7xf32> -> tensor<1x392xf32>
  %fw = nn.weight "fc.weight" offset 704 : tensor<10x392xf32>
  %6 = nn.linear %5, %fw activation "relu" : tensor<1x392xf32>, tensor<10x392xf32> -> tensor<1x10xf32>
  %7 = nn.softmax %6 dim 1 : tensor<1x10xf32>
  %8 = nn.log_softmax %7 dim 1 : tensor<1x10xf32>
  func.return %8 : tensor<1x10xf32>
}

// CHECK:      func.func @forward(%[[X:.*]]: tensor<1x1x28x28xf32>) -> tensor<1x10xf32> {
// CHECK-NEXT:   %[[W:.*]] = nn.weight "conv1.weight" offset 0 : tensor<8x1x3x3xf32>
// CHECK-NEXT:   %[[B:.*]] = nn.weight "conv1.bias" offset 320 : tensor<8xf32>
// CHECK-NEXT:   %[[C0:.*]] = nn.conv2d %[[X]], %[[W]] bias %[[B]] stride [1, 1] padding [1, 1] dilation [1, 1] groups 1 activation "relu" : tensor<1x1x28x28xf32>, tensor<8x1x3x3xf32>, tensor<8xf32> -> tensor<1x8x28x28xf32>
// CHECK-NEXT:   %[[DW:.*]] = nn.weight "dw.weight" offset 384 : tensor<8x1x3x3xf32>
// CHECK-NEXT:   %[[C1:.*]] = nn.conv2d %[[C0]], %[[DW]] stride [2, 2] padding [0, 0] dilation [2, 2] groups 8 : tensor<1x8x28x28xf32>, tensor<8x1x3x3xf32> -> tensor<1x8x12x12xf32>
// CHECK-NEXT:   %[[R:.*]] = nn.relu %[[C1]] : tensor<1x8x12x12xf32>
// CHECK-NEXT:   %[[P:.*]] = nn.max_pool2d %[[R]] kernel [3, 3] stride [2, 2] padding [1, 1] dilation [1, 1] ceil_mode 1 : tensor<1x8x12x12xf32> -> tensor<1x8x7x7xf32>
// CHECK-NEXT:   %[[D:.*]] = nn.dropout %[[P]] p 2.500000e-01 : tensor<1x8x7x7xf32>
// CHECK-NEXT:   %[[F:.*]] = nn.reshape %[[D]] : tensor<1x8x7x7xf32> -> tensor<1x392xf32>
// CHECK-NEXT:   %[[FW:.*]] = nn.weight "fc.weight" offset 704 : tensor<10x392xf32>
// CHECK-NEXT:   %[[L:.*]] = nn.linear %[[F]], %[[FW]] activation "relu" : tensor<1x392xf32>, tensor<10x392xf32> -> tensor<1x10xf32>
// CHECK-NEXT:   %[[S:.*]] = nn.softmax %[[L]] dim 1 : tensor<1x10xf32>
// CHECK-NEXT:   %[[LS:.*]] = nn.log_softmax %[[S]] dim 1 : tensor<1x10xf32>
// CHECK-NEXT:   func.return %[[LS]] : tensor<1x10xf32>
