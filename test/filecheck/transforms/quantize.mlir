// A small network through `quantize`: conv2d+relu, max pool, flatten, linear, softmax.
// The weight file (64-byte aligned): conv.weight [2,1,3,3] at 0, conv.bias [2] at 64,
// fc.weight [3,8] at 128, fc.bias [3] at 256. Calibration: 64 samples in [0, 1] with
// both ends present, so the input's scale is 1/255 and its zero point -128.
// RUN: rm -rf %t && mkdir -p %t && cd %t
// RUN: %python -c "import numpy as np; r = np.random.default_rng(0); b = bytearray(320); [b.__setitem__(slice(o, o + 4 * v.size), v.astype('<f4').tobytes()) for o, v in [(0, r.normal(size=18)), (64, np.array([0.1, -0.2])), (128, r.normal(size=24)), (256, np.array([0.3, 0.0, -0.3]))]]; open('q.weights.bin', 'wb').write(b); x = r.random((64, 1, 6, 6)).astype('f4'); x[0, 0, 0, :2] = [0, 1]; np.save('cal.npy', x)"
// RUN: mnistc-opt %s -p 'quantize{calibration="cal.npy"},dce' --weights-out out.weights.bin | filecheck %s
// RUN: mnistc-opt %s -p 'quantize{calibration="cal.npy" fp32-layers=fc},dce' --weights-out out2.weights.bin | filecheck %s --check-prefix=FP32
// RUN: mnistc-opt %s -p 'quantize{calibration="cal.npy" vnni=false},dce' --weights-out out5.weights.bin | filecheck %s --check-prefix=NOVNNI
// RUN: not mnistc-opt %s -p 'quantize{calibration="missing.npy"}' --weights-out out3.weights.bin 2>&1 | filecheck %s --check-prefix=MISSING
// RUN: not mnistc-opt %s -p 'quantize{calibration="cal.npy" method="median"}' --weights-out out4.weights.bin 2>&1 | filecheck %s --check-prefix=METHOD

builtin.module attributes {nn.weights_file = "q.weights.bin"} {
  func.func @forward(%x: tensor<1x1x6x6xf32>) -> tensor<1x3xf32> {
    %w = nn.weight "conv.weight" offset 0 : tensor<2x1x3x3xf32>
    %b = nn.weight "conv.bias" offset 64 : tensor<2xf32>
    %0 = nn.conv2d %x, %w bias %b stride [1, 1] padding [1, 1] dilation [1, 1] groups 1 activation "relu" : tensor<1x1x6x6xf32>, tensor<2x1x3x3xf32>, tensor<2xf32> -> tensor<1x2x6x6xf32>
    %1 = nn.max_pool2d %0 kernel [3, 3] stride [3, 3] padding [0, 0] dilation [1, 1] ceil_mode 0 : tensor<1x2x6x6xf32> -> tensor<1x2x2x2xf32>
    %2 = nn.reshape %1 : tensor<1x2x2x2xf32> -> tensor<1x8xf32>
    %fw = nn.weight "fc.weight" offset 128 : tensor<3x8xf32>
    %fb = nn.weight "fc.bias" offset 256 : tensor<3xf32>
    %3 = nn.linear %2, %fw bias %fb : tensor<1x8xf32>, tensor<3x8xf32>, tensor<3xf32> -> tensor<1x3xf32>
    %4 = nn.softmax %3 dim 1 : tensor<1x3xf32>
    func.return %4 : tensor<1x3xf32>
  }
}

// The layers become qconv2d and qlinear with int8 weights, float32 scales per channel and
// int32 biases; int8 flows through the pool and the flatten; softmax stays float32.
// CHECK:      func.func @forward(%[[X:.*]]: tensor<1x1x6x6xf32>) -> tensor<1x3xf32> {
// CHECK-DAG:    %[[W:.*]] = nn.weight "conv.weight.int8" offset {{[0-9]+}} : tensor<2x1x3x3xi8>
// CHECK-DAG:    %[[S:.*]] = nn.weight "conv.weight_scale" offset {{[0-9]+}} : tensor<2xf32>
// CHECK-DAG:    %[[B:.*]] = nn.weight "conv.bias.int32" offset {{[0-9]+}} : tensor<2xi32>
// CHECK:        %[[Q:.*]] = nn.quantize %[[X]] scale 0.00392156886 zero_point -128 : tensor<1x1x6x6xf32> -> tensor<1x1x6x6xi8>
// CHECK-NEXT:   %[[C:.*]] = nn.qconv2d %[[Q]], %[[W]] scales %[[S]] bias %[[B]] input_scale 0.00392156886 input_zero_point -128 output_scale [[CS:[0-9.e+-]+]] output_zero_point -128 stride [1, 1] padding [1, 1] dilation [1, 1] groups 1 activation "relu" : tensor<1x1x6x6xi8>, tensor<2x1x3x3xi8>, tensor<2xf32>, tensor<2xi32> -> tensor<1x2x6x6xi8>
// CHECK-NEXT:   %[[P:.*]] = nn.max_pool2d %[[C]] kernel [3, 3] stride [3, 3] padding [0, 0] dilation [1, 1] ceil_mode 0 : tensor<1x2x6x6xi8> -> tensor<1x2x2x2xi8>
// CHECK-NEXT:   %[[R:.*]] = nn.reshape %[[P]] : tensor<1x2x2x2xi8> -> tensor<1x8xi8>
// CHECK:        %[[L:.*]] = nn.qlinear %[[R]], %{{.*}} scales %{{.*}} bias %{{.*}} input_scale [[CS]] input_zero_point -128 output_scale [[LS:[0-9.e+-]+]] output_zero_point [[LZ:-?[0-9]+]] : tensor<1x8xi8>, tensor<3x8xi8>, tensor<3xf32>, tensor<3xi32> -> tensor<1x3xi8>
// CHECK-NEXT:   %[[D:.*]] = nn.dequantize %[[L]] scale [[LS]] zero_point [[LZ]] : tensor<1x3xi8> -> tensor<1x3xf32>
// CHECK-NEXT:   %[[SM:.*]] = nn.softmax %[[D]] dim 1 : tensor<1x3xf32>
// CHECK-NEXT:   func.return %[[SM]] : tensor<1x3xf32>
// CHECK-NOT:  nn.conv2d
// CHECK-NOT:  nn.linear

// fp32-layers=fc: the linear layer stays float32, behind a dequantize of the int8 flatten.
// FP32:       nn.qconv2d
// FP32:       nn.max_pool2d %{{.*}} : tensor<1x2x6x6xi8> -> tensor<1x2x2x2xi8>
// FP32-NEXT:  %[[R:.*]] = nn.reshape %{{.*}} : tensor<1x2x2x2xi8> -> tensor<1x8xi8>
// FP32-NEXT:  %[[D:.*]] = nn.dequantize %[[R]] scale {{.*}} : tensor<1x8xi8> -> tensor<1x8xf32>
// FP32:       nn.linear %[[D]], %{{.*}} : tensor<1x8xf32>, tensor<3x8xf32>, tensor<3xf32> -> tensor<1x3xf32>
// FP32-NOT:   nn.qlinear

// vnni=false (a target without AVX-512 VNNI): the convolution stays float32, the linear
// layer is quantized, its input quantized from the float32 flatten.
// NOVNNI:       %[[C:.*]] = nn.conv2d %{{.*}} : tensor<1x1x6x6xf32>, tensor<2x1x3x3xf32>, tensor<2xf32> -> tensor<1x2x6x6xf32>
// NOVNNI-NEXT:  %[[P:.*]] = nn.max_pool2d %[[C]] {{.*}} : tensor<1x2x6x6xf32> -> tensor<1x2x2x2xf32>
// NOVNNI-NEXT:  %[[R:.*]] = nn.reshape %[[P]] : tensor<1x2x2x2xf32> -> tensor<1x8xf32>
// NOVNNI:       %[[Q:.*]] = nn.quantize %[[R]] {{.*}} : tensor<1x8xf32> -> tensor<1x8xi8>
// NOVNNI:       nn.qlinear %[[Q]], {{.*}} -> tensor<1x3xi8>
// NOVNNI-NOT:   nn.qconv2d

// MISSING: mnistc-opt: error: calibration data missing.npy: no such file or directory
// METHOD: mnistc-opt: error: unknown calibration method 'median' (one of minmax, percentile, mse)
