// The weight file (offsets in bytes, 64-byte aligned):
//   w int8 [2,1,1,1] = [3, -5] at 0; s float32 [2,1,1,1] = [0.5, 0.25] at 64;
//   b float32 [2] = [1, -2] at 128.
// With input scale 0.5 the bias in units of 0.5 * s is [1 / 0.25, -2 / 0.125] = [4, -16].
// RUN: rm -rf %t && mkdir -p %t && cd %t
// RUN: %python -c "import numpy as np; b = bytearray(192); b[0:2] = np.array([3, -5], 'i1').tobytes(); b[64:72] = np.array([0.5, 0.25], '<f4').tobytes(); b[128:136] = np.array([1, -2], '<f4').tobytes(); open('q.weights.bin', 'wb').write(b)"
// RUN: mnistc-opt %s -p fold-qdq --split-input-file --weights-out out.weights.bin | filecheck %s
// RUN: %python -c "import numpy as np; print(np.fromfile('out.weights.bin', '<i4')[48:50], np.fromfile('out.weights.bin', '<f4')[64:66])" | filecheck %s --check-prefix=DATA

// quantize(relu(conv2d(dequantize(x), int8 weight * scales, bias))) → qconv2d, relu fused.
builtin.module attributes {nn.weights_file = "q.weights.bin"} {
  func.func @conv(%x: tensor<1x1x3x3xi8>) -> tensor<1x2x3x3xi8> {
    %w = nn.weight "conv.weight" offset 0 : tensor<2x1x1x1xi8>
    %s = nn.weight "conv.weight.scale" offset 64 : tensor<2x1x1x1xf32>
    %b = nn.weight "conv.bias" offset 128 : tensor<2xf32>
    %0 = nn.dequantize %x scale 0.5 zero_point 1 : tensor<1x1x3x3xi8> -> tensor<1x1x3x3xf32>
    %1 = nn.dequantize %w scale 1.0 zero_point 0 : tensor<2x1x1x1xi8> -> tensor<2x1x1x1xf32>
    %2 = nn.mul %1, %s : tensor<2x1x1x1xf32>, tensor<2x1x1x1xf32> -> tensor<2x1x1x1xf32>
    %3 = nn.conv2d %0, %2 bias %b stride [1, 1] padding [0, 0] dilation [1, 1] groups 1 : tensor<1x1x3x3xf32>, tensor<2x1x1x1xf32>, tensor<2xf32> -> tensor<1x2x3x3xf32>
    %4 = nn.relu %3 : tensor<1x2x3x3xf32>
    %5 = nn.quantize %4 scale 0.25 zero_point -3 : tensor<1x2x3x3xf32> -> tensor<1x2x3x3xi8>
    func.return %5 : tensor<1x2x3x3xi8>
  }
}

// CHECK-LABEL: func.func @conv
// CHECK:       %[[W:.*]] = nn.weight "conv.weight" offset 0 : tensor<2x1x1x1xi8>
// CHECK:       %[[B:.*]] = nn.weight "conv.bias|int32" offset 192 : tensor<2xi32>
// CHECK-NEXT:  %[[S:.*]] = nn.weight "conv.weight.scales" offset 256 : tensor<2xf32>
// CHECK-NEXT:  %[[Q:.*]] = nn.qconv2d %{{.*}}, %[[W]] scales %[[S]] bias %[[B]] input_scale 5.000000e-01 input_zero_point 1 output_scale 2.500000e-01 output_zero_point -3 stride [1, 1] padding [0, 0] dilation [1, 1] groups 1 activation "relu"
// CHECK-NOT:   nn.conv2d
// CHECK-NEXT:  func.return %[[Q]]
// DATA: [  4 -16] [0.5  0.25]

// -----

// dequantize → max_pool2d → reshape → quantize with the same scale and zero point: the
// quantize moves above both (they only compare and move elements) and meets the
// dequantize, and the pool and reshape run on int8.
builtin.module attributes {nn.weights_file = "q.weights.bin"} {
  func.func @pool(%a: tensor<1x2x4x4xi8>) -> tensor<1x8xi8> {
    %0 = nn.dequantize %a scale 0.1 zero_point 3 : tensor<1x2x4x4xi8> -> tensor<1x2x4x4xf32>
    %1 = nn.max_pool2d %0 kernel [2, 2] stride [2, 2] padding [0, 0] dilation [1, 1] ceil_mode 0 : tensor<1x2x4x4xf32> -> tensor<1x2x2x2xf32>
    %2 = nn.reshape %1 : tensor<1x2x2x2xf32> -> tensor<1x8xf32>
    %3 = nn.quantize %2 scale 0.1 zero_point 3 : tensor<1x8xf32> -> tensor<1x8xi8>
    func.return %3 : tensor<1x8xi8>
  }
}

// CHECK-LABEL: func.func @pool(%{{.*}}: tensor<1x2x4x4xi8>)
// CHECK-NEXT:  %[[P:.*]] = nn.max_pool2d %{{.*}} kernel [2, 2] {{.*}} : tensor<1x2x4x4xi8> -> tensor<1x2x2x2xi8>
// CHECK-NEXT:  %[[R:.*]] = nn.reshape %[[P]] : tensor<1x2x2x2xi8> -> tensor<1x8xi8>
// CHECK-NEXT:  func.return %[[R]]

// -----

// Not folded: another scale (a requantization stays float32), and a conv whose float
// result is also returned.
builtin.module attributes {nn.weights_file = "q.weights.bin"} {
  func.func @kept(%x: tensor<1x1x3x3xi8>) -> (tensor<1x1x3x3xi8>, tensor<1x2x3x3xf32>) {
    %w = nn.weight "conv.weight" offset 0 : tensor<2x1x1x1xi8>
    %0 = nn.dequantize %x scale 0.5 zero_point 1 : tensor<1x1x3x3xi8> -> tensor<1x1x3x3xf32>
    %1 = nn.quantize %0 scale 0.25 zero_point 1 : tensor<1x1x3x3xf32> -> tensor<1x1x3x3xi8>
    %2 = nn.dequantize %w scale 0.125 zero_point 0 : tensor<2x1x1x1xi8> -> tensor<2x1x1x1xf32>
    %3 = nn.conv2d %0, %2 stride [1, 1] padding [0, 0] dilation [1, 1] groups 1 : tensor<1x1x3x3xf32>, tensor<2x1x1x1xf32> -> tensor<1x2x3x3xf32>
    %4 = nn.quantize %3 scale 0.25 zero_point 0 : tensor<1x2x3x3xf32> -> tensor<1x2x3x3xi8>
    func.return %1, %3 : tensor<1x1x3x3xi8>, tensor<1x2x3x3xf32>
  }
}

// CHECK-LABEL: func.func @kept
// CHECK:       nn.quantize %{{.*}} scale 2.500000e-01 zero_point 1
// CHECK:       nn.conv2d
// CHECK-NOT:   nn.qconv2d

// -----

// Not folded either: a bias that int32 cannot hold in units of input_scale *
// weight_scale (1 / (1e-10 * 0.5) = 2e10), and a quantize after a transpose (the int8
// lowering runs max pooling and reshapes only).
builtin.module attributes {nn.weights_file = "q.weights.bin"} {
  func.func @overflow(%x: tensor<1x1x3x3xi8>) -> (tensor<1x2x3x3xi8>, tensor<1x3x3x1xi8>) {
    %w = nn.weight "conv.weight" offset 0 : tensor<2x1x1x1xi8>
    %s = nn.weight "conv.weight.scale" offset 64 : tensor<2x1x1x1xf32>
    %b = nn.weight "conv.bias" offset 128 : tensor<2xf32>
    %0 = nn.dequantize %x scale 1.0e-10 zero_point 0 : tensor<1x1x3x3xi8> -> tensor<1x1x3x3xf32>
    %1 = nn.dequantize %w scale 1.0 zero_point 0 : tensor<2x1x1x1xi8> -> tensor<2x1x1x1xf32>
    %2 = nn.mul %1, %s : tensor<2x1x1x1xf32>, tensor<2x1x1x1xf32> -> tensor<2x1x1x1xf32>
    %3 = nn.conv2d %0, %2 bias %b stride [1, 1] padding [0, 0] dilation [1, 1] groups 1 : tensor<1x1x3x3xf32>, tensor<2x1x1x1xf32>, tensor<2xf32> -> tensor<1x2x3x3xf32>
    %4 = nn.quantize %3 scale 0.25 zero_point 0 : tensor<1x2x3x3xf32> -> tensor<1x2x3x3xi8>
    %5 = nn.transpose %0 permutation [0, 2, 3, 1] : tensor<1x1x3x3xf32> -> tensor<1x3x3x1xf32>
    %6 = nn.quantize %5 scale 0.25 zero_point 0 : tensor<1x3x3x1xf32> -> tensor<1x3x3x1xi8>
    func.return %4, %6 : tensor<1x2x3x3xi8>, tensor<1x3x3x1xi8>
  }
}

// CHECK-LABEL: func.func @overflow
// CHECK-NOT:   nn.qconv2d
// CHECK:       nn.conv2d
// CHECK:       nn.transpose %{{.*}} : tensor<1x1x3x3xf32> -> tensor<1x3x3x1xf32>
