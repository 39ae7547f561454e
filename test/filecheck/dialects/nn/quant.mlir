// RUN: mnistc-opt %s | mnistc-opt | filecheck %s
// RUN: mnistc-opt %s --print-op-generic | mnistc-opt | filecheck %s

// The quantized ops, and int8 through max pooling and the views, in custom form and after
// a round trip through the generic form. Scales print as float32, exactly.

func.func @forward(%x: tensor<1x1x28x28xf32>) -> tensor<1x10xf32> {
  %q = nn.quantize %x scale 0.0078125 zero_point -128 : tensor<1x1x28x28xf32> -> tensor<1x1x28x28xi8>
  %w = nn.weight "conv1.weight" offset 0 : tensor<8x1x3x3xi8>
  %s = nn.weight "conv1.weight_scale" offset 128 : tensor<8xf32>
  %b = nn.weight "conv1.bias" offset 192 : tensor<8xi32>
  %c = nn.qconv2d %q, %w scales %s bias %b input_scale 0.0078125 input_zero_point -128 output_scale 0.0392156877 output_zero_point -128 stride [1, 1] padding [1, 1] dilation [1, 1] groups 1 activation "relu" : tensor<1x1x28x28xi8>, tensor<8x1x3x3xi8>, tensor<8xf32>, tensor<8xi32> -> tensor<1x8x28x28xi8>
  %p = nn.max_pool2d %c kernel [2, 2] stride [2, 2] padding [0, 0] dilation [1, 1] ceil_mode 0 : tensor<1x8x28x28xi8> -> tensor<1x8x14x14xi8>
  %t = nn.transpose %p permutation [0, 1, 3, 2] : tensor<1x8x14x14xi8> -> tensor<1x8x14x14xi8>
  %sl = nn.slice %t offsets [0, 0, 0, 0] strides [1, 1, 1, 1] : tensor<1x8x14x14xi8> -> tensor<1x8x14x14xi8>
  %r = nn.reshape %sl : tensor<1x8x14x14xi8> -> tensor<1x1568xi8>
  %fw = nn.weight "fc.weight" offset 256 : tensor<10x1568xi8>
  %fs = nn.weight "fc.weight_scale" offset 16000 : tensor<10xf32>
  %l = nn.qlinear %r, %fw scales %fs input_scale 0.0392156877 input_zero_point -128 output_scale 0.1 output_zero_point 3 activation "hardtanh" params [0.0, 6.0] : tensor<1x1568xi8>, tensor<10x1568xi8>, tensor<10xf32> -> tensor<1x10xi8>
  %d = nn.dequantize %l scale 0.1 zero_point 3 : tensor<1x10xi8> -> tensor<1x10xf32>
  func.return %d : tensor<1x10xf32>
}

// CHECK:      func.func @forward(%[[X:.*]]: tensor<1x1x28x28xf32>) -> tensor<1x10xf32> {
// CHECK-NEXT:   %[[Q:.*]] = nn.quantize %[[X]] scale 7.812500e-03 zero_point -128 : tensor<1x1x28x28xf32> -> tensor<1x1x28x28xi8>
// CHECK-NEXT:   %[[W:.*]] = nn.weight "conv1.weight" offset 0 : tensor<8x1x3x3xi8>
// CHECK-NEXT:   %[[S:.*]] = nn.weight "conv1.weight_scale" offset 128 : tensor<8xf32>
// CHECK-NEXT:   %[[B:.*]] = nn.weight "conv1.bias" offset 192 : tensor<8xi32>
// CHECK-NEXT:   %[[C:.*]] = nn.qconv2d %[[Q]], %[[W]] scales %[[S]] bias %[[B]] input_scale 7.812500e-03 input_zero_point -128 output_scale 0.0392156877 output_zero_point -128 stride [1, 1] padding [1, 1] dilation [1, 1] groups 1 activation "relu" : tensor<1x1x28x28xi8>, tensor<8x1x3x3xi8>, tensor<8xf32>, tensor<8xi32> -> tensor<1x8x28x28xi8>
// CHECK-NEXT:   %[[P:.*]] = nn.max_pool2d %[[C]] kernel [2, 2] stride [2, 2] padding [0, 0] dilation [1, 1] ceil_mode 0 : tensor<1x8x28x28xi8> -> tensor<1x8x14x14xi8>
// CHECK-NEXT:   %[[T:.*]] = nn.transpose %[[P]] permutation [0, 1, 3, 2] : tensor<1x8x14x14xi8> -> tensor<1x8x14x14xi8>
// CHECK-NEXT:   %[[SL:.*]] = nn.slice %[[T]] offsets [0, 0, 0, 0] strides [1, 1, 1, 1] : tensor<1x8x14x14xi8> -> tensor<1x8x14x14xi8>
// CHECK-NEXT:   %[[R:.*]] = nn.reshape %[[SL]] : tensor<1x8x14x14xi8> -> tensor<1x1568xi8>
// CHECK-NEXT:   %[[FW:.*]] = nn.weight "fc.weight" offset 256 : tensor<10x1568xi8>
// CHECK-NEXT:   %[[FS:.*]] = nn.weight "fc.weight_scale" offset 16000 : tensor<10xf32>
// CHECK-NEXT:   %[[L:.*]] = nn.qlinear %[[R]], %[[FW]] scales %[[FS]] input_scale 0.0392156877 input_zero_point -128 output_scale 1.000000e-01 output_zero_point 3 activation "hardtanh" params [0.000000e+00, 6.000000e+00] : tensor<1x1568xi8>, tensor<10x1568xi8>, tensor<10xf32> -> tensor<1x10xi8>
// CHECK-NEXT:   %[[D:.*]] = nn.dequantize %[[L]] scale 1.000000e-01 zero_point 3 : tensor<1x10xi8> -> tensor<1x10xf32>
// CHECK-NEXT:   func.return %[[D]] : tensor<1x10xf32>
