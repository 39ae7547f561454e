// RUN: mnistc-opt %s -p fuse-attention --split-input-file | filecheck %s

// ONNX's scaled_dot_product_attention: sqrt(scale) on q and on kᵀ (a transpose of the
// heads that the fused op's k composes with), an additive mask, softmax over the keys.
func.func @forward(%q: tensor<1x2x5x8xf32>, %k: tensor<1x5x2x8xf32>, %v: tensor<1x2x5x4xf32>) -> tensor<1x2x5x4xf32> {
  %c = nn.splat 5.0e-01 : tensor<1xf32>
  %qs = nn.mul %q, %c : tensor<1x2x5x8xf32>, tensor<1xf32> -> tensor<1x2x5x8xf32>
  %kt = nn.transpose %k permutation [0, 2, 3, 1] : tensor<1x5x2x8xf32> -> tensor<1x2x8x5xf32>
  %ks = nn.mul %c, %kt : tensor<1xf32>, tensor<1x2x8x5xf32> -> tensor<1x2x8x5xf32>
  %s = nn.matmul %qs, %ks : tensor<1x2x5x8xf32>, tensor<1x2x8x5xf32> -> tensor<1x2x5x5xf32>
  %m = nn.splat -1.0e+00 : tensor<5x5xf32>
  %sm = nn.add %s, %m : tensor<1x2x5x5xf32>, tensor<5x5xf32> -> tensor<1x2x5x5xf32>
  %p = nn.softmax %sm dim 3 : tensor<1x2x5x5xf32>
  %o = nn.matmul %p, %v : tensor<1x2x5x5xf32>, tensor<1x2x5x4xf32> -> tensor<1x2x5x4xf32>
  func.return %o : tensor<1x2x5x4xf32>
}

// CHECK:      func.func @forward(%[[Q:.*]]: tensor<1x2x5x8xf32>, %[[K:.*]]: tensor<1x5x2x8xf32>, %[[V:.*]]: tensor<1x2x5x4xf32>)
// CHECK-NEXT:   %[[M:.*]] = nn.splat -1.000000e+00 : tensor<5x5xf32>
// CHECK-NEXT:   %[[KH:.*]] = nn.transpose %[[K]] permutation [0, 2, 1, 3] : tensor<1x5x2x8xf32> -> tensor<1x2x5x8xf32>
// CHECK-NEXT:   %[[O:.*]] = nn.attention %[[Q]], %[[KH]], %[[V]] mask %[[M]] scale 2.500000e-01 causal 0
// CHECK-NEXT:   func.return %[[O]]

// -----

// TorchScript's slow path of nn.MultiheadAttention: the scores divided by a weight, no
// mask; kᵀ a plain swap of k's last two dimensions, which disappears.
func.func @divided(%q: tensor<1x4x3x8xf32>, %k: tensor<1x4x6x8xf32>, %v: tensor<1x4x6x8xf32>) -> tensor<1x4x3x8xf32> {
  %kt = nn.transpose %k permutation [0, 1, 3, 2] : tensor<1x4x6x8xf32> -> tensor<1x4x8x6xf32>
  %s = nn.matmul %q, %kt : tensor<1x4x3x8xf32>, tensor<1x4x8x6xf32> -> tensor<1x4x3x6xf32>
  %c = nn.splat 4.0e+00 : tensor<1x1x1x1xf32>
  %d = nn.div %s, %c : tensor<1x4x3x6xf32>, tensor<1x1x1x1xf32> -> tensor<1x4x3x6xf32>
  %p = nn.softmax %d dim 3 : tensor<1x4x3x6xf32>
  %o = nn.matmul %p, %v : tensor<1x4x3x6xf32>, tensor<1x4x6x8xf32> -> tensor<1x4x3x8xf32>
  func.return %o : tensor<1x4x3x8xf32>
}

// CHECK-LABEL: func.func @divided
// CHECK-NEXT:    %[[O:.*]] = nn.attention %{{.*}}, %{{.*}}, %{{.*}} scale 2.500000e-01 causal 0
// CHECK-NEXT:    func.return %[[O]]

// -----

// A mask of one value per query (not per key) is expanded to the keys, as the kernel
// reads it; kᵀ that is not a transpose gets one.
func.func @query_mask(%q: tensor<1x3x8xf32>, %kt: tensor<1x8x6xf32>, %v: tensor<1x6x8xf32>, %m: tensor<1x3x1xf32>) -> tensor<1x3x8xf32> {
  %s = nn.matmul %q, %kt : tensor<1x3x8xf32>, tensor<1x8x6xf32> -> tensor<1x3x6xf32>
  %a = nn.add %m, %s : tensor<1x3x1xf32>, tensor<1x3x6xf32> -> tensor<1x3x6xf32>
  %p = nn.softmax %a dim 2 : tensor<1x3x6xf32>
  %o = nn.matmul %p, %v : tensor<1x3x6xf32>, tensor<1x6x8xf32> -> tensor<1x3x8xf32>
  func.return %o : tensor<1x3x8xf32>
}

// CHECK-LABEL: func.func @query_mask
// CHECK-NEXT:    %[[K:.*]] = nn.transpose %{{.*}} permutation [0, 2, 1] : tensor<1x8x6xf32> -> tensor<1x6x8xf32>
// CHECK-NEXT:    %[[M:.*]] = nn.expand %{{.*}} : tensor<1x3x1xf32> -> tensor<1x3x6xf32>
// CHECK-NEXT:    nn.attention %{{.*}}, %[[K]], %{{.*}} mask %[[M]] scale 1.000000e+00 causal 0

// -----

// Not fused: the probabilities are a result too (need_weights); a scale after the
// mask; softmax over another dimension.
func.func @kept(%q: tensor<1x3x8xf32>, %kt: tensor<1x8x3xf32>, %v: tensor<1x3x8xf32>, %m: tensor<3x3xf32>) -> (tensor<1x3x8xf32>, tensor<1x3x3xf32>, tensor<1x3x8xf32>, tensor<1x3x8xf32>) {
  %s = nn.matmul %q, %kt : tensor<1x3x8xf32>, tensor<1x8x3xf32> -> tensor<1x3x3xf32>
  %p = nn.softmax %s dim 2 : tensor<1x3x3xf32>
  %o = nn.matmul %p, %v : tensor<1x3x3xf32>, tensor<1x3x8xf32> -> tensor<1x3x8xf32>
  %s2 = nn.matmul %q, %kt : tensor<1x3x8xf32>, tensor<1x8x3xf32> -> tensor<1x3x3xf32>
  %a2 = nn.add %s2, %m : tensor<1x3x3xf32>, tensor<3x3xf32> -> tensor<1x3x3xf32>
  %c = nn.splat 2.0e+00 : tensor<1xf32>
  %d2 = nn.mul %a2, %c : tensor<1x3x3xf32>, tensor<1xf32> -> tensor<1x3x3xf32>
  %p2 = nn.softmax %d2 dim 2 : tensor<1x3x3xf32>
  %o2 = nn.matmul %p2, %v : tensor<1x3x3xf32>, tensor<1x3x8xf32> -> tensor<1x3x8xf32>
  %s3 = nn.matmul %q, %kt : tensor<1x3x8xf32>, tensor<1x8x3xf32> -> tensor<1x3x3xf32>
  %p3 = nn.softmax %s3 dim 1 : tensor<1x3x3xf32>
  %o3 = nn.matmul %p3, %v : tensor<1x3x3xf32>, tensor<1x3x8xf32> -> tensor<1x3x8xf32>
  func.return %o, %p, %o2, %o3 : tensor<1x3x8xf32>, tensor<1x3x3xf32>, tensor<1x3x8xf32>, tensor<1x3x8xf32>
}

// CHECK-LABEL: func.func @kept
// CHECK-NOT:     nn.attention
// CHECK:         func.return
