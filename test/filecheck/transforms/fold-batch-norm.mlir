// The weight file (offsets in bytes, 64-byte aligned):
//   w [2,1,1,1] = [1, 2] at 0; b = [0.5, -1] at 64; mean = [1, 2] at 128;
//   var = [3, 15] at 192; gamma = [4, 2] at 256; beta = [0, 1] at 320.
// With eps = 1: scale = gamma / sqrt(var + 1) = [2, 0.5], so the folded weight is
// [2, 1] and the folded bias (b - mean) * scale + beta = [-1, -0.5].
// RUN: rm -rf %t && mkdir -p %t && cd %t
// RUN: %python -c "import numpy as np; b = bytearray(384); [b.__setitem__(slice(o, o + 8), np.array(v, '<f4').tobytes()) for o, v in [(0, [1, 2]), (64, [0.5, -1]), (128, [1, 2]), (192, [3, 15]), (256, [4, 2]), (320, [0, 1])]]; open('bn.weights.bin', 'wb').write(b)"
// RUN: mnistc-opt %s -p fold-batch-norm,dce --weights-out out.weights.bin | filecheck %s
// RUN: %python -c "import numpy as np; d = np.fromfile('out.weights.bin', '<f4'); print(d[96:98], d[112:114])" | filecheck %s --check-prefix=DATA

// CHECK:      %[[W:.*]] = nn.weight "conv.weight+bn" offset 384 : tensor<2x1x1x1xf32>
// CHECK-NEXT: %[[B:.*]] = nn.weight "conv.bias+bn" offset 448 : tensor<2xf32>
// CHECK-NEXT: %[[C:.*]] = nn.conv2d %{{.*}}, %[[W]] bias %[[B]] stride [1, 1]
// CHECK-NOT:  nn.batch_norm
// CHECK-NEXT: func.return %[[C]]
// DATA: [2. 1.] [-1.  -0.5]

builtin.module attributes {nn.weights_file = "bn.weights.bin"} {
  func.func @forward(%x: tensor<1x1x3x3xf32>) -> tensor<1x2x3x3xf32> {
    %w = nn.weight "conv.weight" offset 0 : tensor<2x1x1x1xf32>
    %b = nn.weight "conv.bias" offset 64 : tensor<2xf32>
    %0 = nn.conv2d %x, %w bias %b stride [1, 1] padding [0, 0] dilation [1, 1] groups 1 : tensor<1x1x3x3xf32>, tensor<2x1x1x1xf32>, tensor<2xf32> -> tensor<1x2x3x3xf32>
    %mean = nn.weight "bn.running_mean" offset 128 : tensor<2xf32>
    %var = nn.weight "bn.running_var" offset 192 : tensor<2xf32>
    %gamma = nn.weight "bn.weight" offset 256 : tensor<2xf32>
    %beta = nn.weight "bn.bias" offset 320 : tensor<2xf32>
    %1 = nn.batch_norm %0 mean %mean var %var gamma %gamma beta %beta eps 1.0 : tensor<1x2x3x3xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32> -> tensor<1x2x3x3xf32>
    func.return %1 : tensor<1x2x3x3xf32>
  }
}
