// RUN: mnistc-opt %s --split-input-file --verify-diagnostics | filecheck %s

func.func @matmul_inner_sizes(%x: tensor<1x5x8xf32>) -> tensor<1x5x5xf32> {
  %0 = nn.matmul %x, %x : tensor<1x5x8xf32>, tensor<1x5x8xf32> -> tensor<1x5x5xf32>
  func.return %0 : tensor<1x5x5xf32>
}
// CHECK: matmul of [1, 5, 8] by [1, 5, 8]: both need rank >= 2, lhs's last size equal to rhs's second last and batch dimensions that broadcast

// -----

func.func @matmul_wrong_result(%x: tensor<1x5x8xf32>, %y: tensor<1x8x3xf32>) -> tensor<1x5x4xf32> {
  %0 = nn.matmul %x, %y : tensor<1x5x8xf32>, tensor<1x8x3xf32> -> tensor<1x5x4xf32>
  func.return %0 : tensor<1x5x4xf32>
}
// CHECK: result shape [1, 5, 4] does not match the expected [1, 5, 3]

// -----

func.func @attention_keys(%q: tensor<1x5x8xf32>, %k: tensor<1x6x8xf32>, %v: tensor<1x7x8xf32>) -> tensor<1x5x8xf32> {
  %0 = nn.attention %q, %k, %v scale 1.0 causal 0 : tensor<1x5x8xf32>, tensor<1x6x8xf32>, tensor<1x7x8xf32> -> tensor<1x5x8xf32>
  func.return %0 : tensor<1x5x8xf32>
}
// CHECK: attention of q [1, 5, 8], k [1, 6, 8], v [1, 7, 8]: q and k need the same last size, k and v the same number of keys

// -----

func.func @attention_mask(%q: tensor<1x5x8xf32>, %m: tensor<4x5xf32>) -> tensor<1x5x8xf32> {
  %0 = nn.attention %q, %q, %q mask %m scale 1.0 causal 0 : tensor<1x5x8xf32>, tensor<1x5x8xf32>, tensor<1x5x8xf32>, tensor<4x5xf32> -> tensor<1x5x8xf32>
  func.return %0 : tensor<1x5x8xf32>
}
// CHECK: attention mask [4, 5] does not broadcast to the scores [1, 5, 5]

// -----

func.func @attention_causal(%q: tensor<1x5x8xf32>) -> tensor<1x5x8xf32> {
  %0 = nn.attention %q, %q, %q scale 1.0 causal 2 : tensor<1x5x8xf32>, tensor<1x5x8xf32>, tensor<1x5x8xf32> -> tensor<1x5x8xf32>
  func.return %0 : tensor<1x5x8xf32>
}
// CHECK: causal must be 0 or 1
