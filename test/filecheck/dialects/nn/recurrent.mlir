// RUN: mnistc-opt %s | mnistc-opt | filecheck %s
// RUN: mnistc-opt %s --print-op-generic | mnistc-opt | filecheck %s

// The recurrent ops (issue 12), round-tripped: a bidirectional LSTM layer with biases and
// initial states (its result: 6 steps, then the final cell state), one with only c0, and
// a GRU layer without biases or states.

func.func @forward(%x: tensor<1x6x3xf32>, %s: tensor<1x6x8xf32>) -> tensor<1x6x5xf32> {
  %wi = nn.weight "wi" offset 0 : tensor<32x3xf32>
  %wh = nn.weight "wh" offset 384 : tensor<32x4xf32>
  %b = nn.weight "b" offset 896 : tensor<32xf32>
  %h = nn.weight "h" offset 1024 : tensor<1x2x4xf32>
  %0 = nn.lstm %x, %wi, %wh bias_ih %b bias_hh %b h0 %h c0 %h : tensor<1x6x3xf32>, tensor<32x3xf32>, tensor<32x4xf32> bias_ih tensor<32xf32> bias_hh tensor<32xf32> h0 tensor<1x2x4xf32> c0 tensor<1x2x4xf32> -> tensor<1x7x8xf32>
  %1 = nn.lstm %x, %wi, %wh c0 %h : tensor<1x6x3xf32>, tensor<32x3xf32>, tensor<32x4xf32> c0 tensor<1x2x4xf32> -> tensor<1x7x8xf32>
  %gi = nn.weight "gi" offset 1088 : tensor<15x8xf32>
  %gh = nn.weight "gh" offset 1600 : tensor<15x5xf32>
  %2 = nn.gru %s, %gi, %gh : tensor<1x6x8xf32>, tensor<15x8xf32>, tensor<15x5xf32> -> tensor<1x6x5xf32>
  func.return %2 : tensor<1x6x5xf32>
}

// CHECK:      %{{.*}} = nn.lstm %{{.*}}, %{{.*}}, %{{.*}} bias_ih %[[B:.*]] bias_hh %[[B]] h0 %[[H:.*]] c0 %[[H]] : tensor<1x6x3xf32>, tensor<32x3xf32>, tensor<32x4xf32> bias_ih tensor<32xf32> bias_hh tensor<32xf32> h0 tensor<1x2x4xf32> c0 tensor<1x2x4xf32> -> tensor<1x7x8xf32>
// CHECK-NEXT: %{{.*}} = nn.lstm %{{.*}}, %{{.*}}, %{{.*}} c0 %[[H]] : tensor<1x6x3xf32>, tensor<32x3xf32>, tensor<32x4xf32> c0 tensor<1x2x4xf32> -> tensor<1x7x8xf32>
// CHECK:      %{{.*}} = nn.gru %{{.*}}, %{{.*}}, %{{.*}} : tensor<1x6x8xf32>, tensor<15x8xf32>, tensor<15x5xf32> -> tensor<1x6x5xf32>
