// RUN: mnistc-opt %s -p fold-layer-norm,dce --split-input-file | filecheck %s

// The decomposed layer norm (mean, centre, square, mean, add eps, sqrt, divide) over the
// trailing dims becomes one nn.layer_norm; eps here is a splat, so no weight file is read.
func.func @forward(%x: tensor<1x3x4x5xf32>) -> tensor<1x3x4x5xf32> {
  %0 = nn.reduce_mean %x dims [3] keepdim 1 : tensor<1x3x4x5xf32> -> tensor<1x3x4x1xf32>
  %1 = nn.sub %x, %0 : tensor<1x3x4x5xf32>, tensor<1x3x4x1xf32> -> tensor<1x3x4x5xf32>
  %2 = nn.mul %1, %1 : tensor<1x3x4x5xf32>, tensor<1x3x4x5xf32> -> tensor<1x3x4x5xf32>
  %3 = nn.reduce_mean %2 dims [3] keepdim 1 : tensor<1x3x4x5xf32> -> tensor<1x3x4x1xf32>
  %eps = nn.splat 1.0e-03 : tensor<1x1x1x1xf32>
  %4 = nn.add %eps, %3 : tensor<1x1x1x1xf32>, tensor<1x3x4x1xf32> -> tensor<1x3x4x1xf32>
  %5 = nn.sqrt %4 : tensor<1x3x4x1xf32>
  %6 = nn.div %1, %5 : tensor<1x3x4x5xf32>, tensor<1x3x4x1xf32> -> tensor<1x3x4x5xf32>
  func.return %6 : tensor<1x3x4x5xf32>
}

// CHECK:      func.func @forward(%[[X:.*]]: tensor<1x3x4x5xf32>) -> tensor<1x3x4x5xf32> {
// CHECK-NEXT:   %[[N:.*]] = nn.layer_norm %[[X]] axis 3 eps 1.000000e-03 : tensor<1x3x4x5xf32> -> tensor<1x3x4x5xf32>
// CHECK-NEXT:   func.return %[[N]] : tensor<1x3x4x5xf32>

// -----

// Not over the trailing dims (the mean of the centred values is over C): unchanged.
func.func @not_trailing(%x: tensor<1x3x4xf32>) -> tensor<1x3x4xf32> {
  %0 = nn.reduce_mean %x dims [1] keepdim 1 : tensor<1x3x4xf32> -> tensor<1x1x4xf32>
  %1 = nn.sub %x, %0 : tensor<1x3x4xf32>, tensor<1x1x4xf32> -> tensor<1x3x4xf32>
  %2 = nn.pow %1 exponent 2.0 : tensor<1x3x4xf32>
  %3 = nn.reduce_mean %2 dims [1] keepdim 1 : tensor<1x3x4xf32> -> tensor<1x1x4xf32>
  %eps = nn.splat 1.0e-03 : tensor<1x1x1xf32>
  %4 = nn.add %3, %eps : tensor<1x1x4xf32>, tensor<1x1x1xf32> -> tensor<1x1x4xf32>
  %5 = nn.sqrt %4 : tensor<1x1x4xf32>
  %6 = nn.div %1, %5 : tensor<1x3x4xf32>, tensor<1x1x4xf32> -> tensor<1x3x4xf32>
  func.return %6 : tensor<1x3x4xf32>
}

// CHECK-LABEL: func.func @not_trailing
// CHECK-NOT:   nn.layer_norm
// CHECK:       nn.div
