// RUN: mnistc-opt %s -p fuse-activation | filecheck %s
// RUN: mnistc-opt %s -p canonicalize,fuse-activation,dce | filecheck %s --check-prefix=SWISH

// The activations of mobile networks fuse into the conv2d / linear before them:
// hardswish, SiLU and hardsigmoid (with its alpha and beta) into a convolution; the
// squeeze-excite gate's hardsigmoid and sigmoid into its 1x1 convolution.
// CHECK-LABEL: func.func @mobile
// CHECK:      nn.conv2d {{.*}} activation "hardswish" :
// CHECK:      nn.conv2d {{.*}} activation "silu" :
// CHECK:      nn.adaptive_avg_pool2d
// CHECK:      nn.conv2d {{.*}} activation "relu" :
// CHECK:      nn.conv2d {{.*}} activation "hardsigmoid" params [0.16666666666666666, 5.000000e-01] :
// CHECK:      nn.mul
// CHECK:      nn.linear {{.*}} activation "hardsigmoid" params [2.000000e-01, 5.000000e-01] :
// CHECK-NOT:  nn.hardswish
// CHECK-NOT:  nn.silu
// CHECK-NOT:  nn.hardsigmoid
func.func @mobile(%x: tensor<1x2x4x4xf32>) -> tensor<1x2xf32> {
  %w = nn.weight "w" offset 0 : tensor<2x2x1x1xf32>
  %0 = nn.conv2d %x, %w stride [1, 1] padding [0, 0] dilation [1, 1] groups 1 : tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32> -> tensor<1x2x4x4xf32>
  %1 = nn.hardswish %0 : tensor<1x2x4x4xf32>
  %2 = nn.conv2d %1, %w stride [1, 1] padding [0, 0] dilation [1, 1] groups 1 : tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32> -> tensor<1x2x4x4xf32>
  %3 = nn.silu %2 : tensor<1x2x4x4xf32>
  %4 = nn.adaptive_avg_pool2d %3 : tensor<1x2x4x4xf32> -> tensor<1x2x1x1xf32>
  %5 = nn.conv2d %4, %w stride [1, 1] padding [0, 0] dilation [1, 1] groups 1 : tensor<1x2x1x1xf32>, tensor<2x2x1x1xf32> -> tensor<1x2x1x1xf32>
  %6 = nn.relu %5 : tensor<1x2x1x1xf32>
  %7 = nn.conv2d %6, %w stride [1, 1] padding [0, 0] dilation [1, 1] groups 1 : tensor<1x2x1x1xf32>, tensor<2x2x1x1xf32> -> tensor<1x2x1x1xf32>
  %8 = nn.hardsigmoid %7 alpha 0.16666666666666666 beta 0.5 : tensor<1x2x1x1xf32>
  %9 = nn.mul %8, %3 : tensor<1x2x1x1xf32>, tensor<1x2x4x4xf32> -> tensor<1x2x4x4xf32>
  %10 = nn.adaptive_avg_pool2d %9 : tensor<1x2x4x4xf32> -> tensor<1x2x1x1xf32>
  %11 = nn.reshape %10 : tensor<1x2x1x1xf32> -> tensor<1x2xf32>
  %fw = nn.weight "fw" offset 0 : tensor<2x2xf32>
  %12 = nn.linear %11, %fw : tensor<1x2xf32>, tensor<2x2xf32> -> tensor<1x2xf32>
  %13 = nn.hardsigmoid %12 alpha 0.2 beta 0.5 : tensor<1x2xf32>
  func.return %13 : tensor<1x2xf32>
}

// SiLU as ONNX exports it, conv(x) * sigmoid(conv(x)): canonicalize folds it into one
// nn.silu, which then fuses; the sigmoid's conv output had two uses before the fold.
// SWISH-LABEL: func.func @swish
// SWISH-NEXT:    nn.weight
// SWISH-NEXT:    %[[C:.*]] = nn.conv2d {{.*}} activation "silu" :
// SWISH-NEXT:    func.return %[[C]]
func.func @swish(%x: tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> {
  %w = nn.weight "w" offset 0 : tensor<2x2x1x1xf32>
  %0 = nn.conv2d %x, %w stride [1, 1] padding [0, 0] dilation [1, 1] groups 1 : tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32> -> tensor<1x2x4x4xf32>
  %1 = nn.sigmoid %0 : tensor<1x2x4x4xf32>
  %2 = nn.mul %0, %1 : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32> -> tensor<1x2x4x4xf32>
  func.return %2 : tensor<1x2x4x4xf32>
}

// Element-wise ops have an activation epilogue too: a channel scale followed by
// hardswish, and relu(a + b) where neither side is a convolution, are one pass each.
// CHECK-LABEL: func.func @elementwise
// CHECK-NEXT:    %[[M:.*]] = nn.mul %x, %s activation "hardswish" : tensor<1x2x4x4xf32>, tensor<1x2x1x1xf32> -> tensor<1x2x4x4xf32>
// CHECK-NEXT:    %[[A:.*]] = nn.add %[[M]], %x activation "relu" : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32> -> tensor<1x2x4x4xf32>
// CHECK-NEXT:    %[[P:.*]] = nn.prelu %[[A]], %s : tensor<1x2x4x4xf32>, tensor<1x2x1x1xf32> -> tensor<1x2x4x4xf32>
// CHECK-NEXT:    %[[R:.*]] = nn.relu %[[P]] : tensor<1x2x4x4xf32>
// CHECK-NEXT:    func.return %[[P]], %[[R]]
func.func @elementwise(%x: tensor<1x2x4x4xf32>, %s: tensor<1x2x1x1xf32>) -> (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) {
  %0 = nn.mul %x, %s : tensor<1x2x4x4xf32>, tensor<1x2x1x1xf32> -> tensor<1x2x4x4xf32>
  %1 = nn.hardswish %0 : tensor<1x2x4x4xf32>
  %2 = nn.add %1, %x : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32> -> tensor<1x2x4x4xf32>
  %3 = nn.relu %2 : tensor<1x2x4x4xf32>
  %4 = nn.prelu %3, %s : tensor<1x2x4x4xf32>, tensor<1x2x1x1xf32> -> tensor<1x2x4x4xf32>
  // A second use of %4: the relu cannot take its place.
  %5 = nn.relu %4 : tensor<1x2x4x4xf32>
  func.return %4, %5 : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>
}
