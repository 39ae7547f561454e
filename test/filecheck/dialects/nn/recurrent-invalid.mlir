// RUN: mnistc-opt %s --split-input-file --verify-diagnostics | filecheck %s

func.func @lstm_gate_rows(%x: tensor<1x6x3xf32>) -> tensor<1x6x4xf32> {
  %wi = nn.weight "wi" offset 0 : tensor<12x3xf32>
  %wh = nn.weight "wh" offset 256 : tensor<12x4xf32>
  %0 = nn.lstm %x, %wi, %wh : tensor<1x6x3xf32>, tensor<12x3xf32>, tensor<12x4xf32> -> tensor<1x6x4xf32>
  func.return %0 : tensor<1x6x4xf32>
}
// CHECK: lstm weight_hh shape [12, 4] must be [D * 4 * H, H] with D 1 or 2, on a sequence of at least one step

// -----

func.func @gru_input_features(%x: tensor<1x6x3xf32>) -> tensor<1x6x4xf32> {
  %wi = nn.weight "wi" offset 0 : tensor<12x5xf32>
  %wh = nn.weight "wh" offset 256 : tensor<12x4xf32>
  %0 = nn.gru %x, %wi, %wh : tensor<1x6x3xf32>, tensor<12x5xf32>, tensor<12x4xf32> -> tensor<1x6x4xf32>
  func.return %0 : tensor<1x6x4xf32>
}
// CHECK: gru weight_ih shape [12, 5] must be [12, 3]

// -----

func.func @gru_bias(%x: tensor<1x6x3xf32>) -> tensor<1x6x4xf32> {
  %wi = nn.weight "wi" offset 0 : tensor<12x3xf32>
  %wh = nn.weight "wh" offset 256 : tensor<12x4xf32>
  %b = nn.weight "b" offset 512 : tensor<24xf32>
  %0 = nn.gru %x, %wi, %wh bias_hh %b : tensor<1x6x3xf32>, tensor<12x3xf32>, tensor<12x4xf32> bias_hh tensor<24xf32> -> tensor<1x6x4xf32>
  func.return %0 : tensor<1x6x4xf32>
}
// CHECK: gru bias_hh shape [24] must be [12]

// -----

func.func @lstm_state(%x: tensor<1x6x3xf32>) -> tensor<1x7x8xf32> {
  %wi = nn.weight "wi" offset 0 : tensor<32x3xf32>
  %wh = nn.weight "wh" offset 512 : tensor<32x4xf32>
  %h = nn.weight "h" offset 1024 : tensor<2x1x4xf32>
  %0 = nn.lstm %x, %wi, %wh h0 %h : tensor<1x6x3xf32>, tensor<32x3xf32>, tensor<32x4xf32> h0 tensor<2x1x4xf32> -> tensor<1x7x8xf32>
  func.return %0 : tensor<1x7x8xf32>
}
// CHECK: lstm h0 shape [2, 1, 4] must be [1, 2, 4]

// -----

func.func @lstm_result(%x: tensor<1x6x3xf32>) -> tensor<1x6x4xf32> {
  %wi = nn.weight "wi" offset 0 : tensor<32x3xf32>
  %wh = nn.weight "wh" offset 512 : tensor<32x4xf32>
  %0 = nn.lstm %x, %wi, %wh : tensor<1x6x3xf32>, tensor<32x3xf32>, tensor<32x4xf32> -> tensor<1x6x4xf32>
  func.return %0 : tensor<1x6x4xf32>
}
// CHECK: result shape [1, 6, 4] does not match the expected [1, 7, 8]

// -----

func.func @gru_batch(%x: tensor<2x6x3xf32>) -> tensor<2x6x4xf32> {
  %wi = nn.weight "wi" offset 0 : tensor<12x3xf32>
  %wh = nn.weight "wh" offset 256 : tensor<12x4xf32>
  %0 = nn.gru %x, %wi, %wh : tensor<2x6x3xf32>, tensor<12x3xf32>, tensor<12x4xf32> -> tensor<2x6x4xf32>
  func.return %0 : tensor<2x6x4xf32>
}
// CHECK: gru input must be one sample [1, T, F], got batch 2
