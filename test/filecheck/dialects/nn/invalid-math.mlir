// RUN: mnistc-opt %s --split-input-file --verify-diagnostics | filecheck %s

// Issue 12's ops: shapes and attributes out of range.

func.func @glu_odd(%x: tensor<1x5xf32>) -> tensor<1x2xf32> {
  %0 = nn.glu %x dim 1 : tensor<1x5xf32> -> tensor<1x2xf32>
  func.return %0 : tensor<1x2xf32>
}
// CHECK: glu halves dim 1, whose size 5 is odd

// -----

func.func @reduce_unsorted(%x: tensor<1x3x4xf32>) -> tensor<1xf32> {
  %0 = nn.reduce_sum %x dims [2, 1] keepdim 0 : tensor<1x3x4xf32> -> tensor<1xf32>
  func.return %0 : tensor<1xf32>
}
// CHECK: dims [2, 1] must be distinct, sorted and in range for rank 3 (use 0..2)

// -----

func.func @reduce_shape(%x: tensor<1x3x4xf32>) -> tensor<1x3xf32> {
  %0 = nn.reduce_mean %x dims [2] keepdim 1 : tensor<1x3x4xf32> -> tensor<1x3xf32>
  func.return %0 : tensor<1x3xf32>
}
// CHECK: result shape [1, 3] does not match the expected [1, 3, 1]

// -----

func.func @reduce_nothing(%x: tensor<1x3xf32>) -> tensor<1x3xf32> {
  %0 = nn.reduce_max %x dims [] keepdim 0 : tensor<1x3xf32> -> tensor<1x3xf32>
  func.return %0 : tensor<1x3xf32>
}
// CHECK: a reduction needs at least one dim

// -----

func.func @broadcast(%x: tensor<1x3x4xf32>, %y: tensor<1x5xf32>) -> tensor<1x3x4xf32> {
  %0 = nn.div %x, %y : tensor<1x3x4xf32>, tensor<1x5xf32> -> tensor<1x3x4xf32>
  func.return %0 : tensor<1x3x4xf32>
}
// CHECK: shapes [1, 3, 4] and [1, 5] do not broadcast

// -----

func.func @layer_norm_batch(%x: tensor<1x3x4xf32>) -> tensor<1x3x4xf32> {
  %0 = nn.layer_norm %x axis 0 eps 1.0e-05 : tensor<1x3x4xf32> -> tensor<1x3x4xf32>
  func.return %0 : tensor<1x3x4xf32>
}
// CHECK: layer_norm axis 0 out of range for rank 3 (use 1..2: dim 0 is the batch)

// -----

func.func @layer_norm_weight(%x: tensor<1x3x4xf32>) -> tensor<1x3x4xf32> {
  %w = nn.weight "w" offset 0 : tensor<3x4xf32>
  %0 = nn.layer_norm %x weight %w axis 2 eps 1.0e-05 : tensor<1x3x4xf32> weight tensor<3x4xf32> -> tensor<1x3x4xf32>
  func.return %0 : tensor<1x3x4xf32>
}
// CHECK: layer_norm weight shape [3, 4] must be [4]

// -----

func.func @group_norm_groups(%x: tensor<1x6x4xf32>) -> tensor<1x6x4xf32> {
  %0 = nn.group_norm %x groups 4 eps 1.0e-05 : tensor<1x6x4xf32> -> tensor<1x6x4xf32>
  func.return %0 : tensor<1x6x4xf32>
}
// CHECK: group_norm groups 4 must divide the 6 channels

// -----

func.func @softplus_beta(%x: tensor<1x6xf32>) -> tensor<1x6xf32> {
  %0 = nn.softplus %x beta 0.0 threshold 20.0 : tensor<1x6xf32>
  func.return %0 : tensor<1x6xf32>
}
// CHECK: softplus beta must not be 0
