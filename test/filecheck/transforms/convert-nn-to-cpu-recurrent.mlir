// RUN: mnistc-opt %s -p convert-nn-to-cpu | filecheck %s

// One kernel call per recurrent layer, absent operands null, the weights as stored
// (packed = 0) until pack-weights packs them.

func.func @forward(%x: tensor<1x6x3xf32>) -> tensor<1x6x5xf32> {
  // the LSTM's result: 6 steps, then the final cell state; its steps are a view
  %wi = nn.weight "wi" offset 0 : tensor<32x3xf32>
  %wh = nn.weight "wh" offset 384 : tensor<32x4xf32>
  %b = nn.weight "b" offset 896 : tensor<32xf32>
  %h = nn.weight "h" offset 1024 : tensor<1x2x4xf32>
  %0 = nn.lstm %x, %wi, %wh bias_ih %b bias_hh %b h0 %h : tensor<1x6x3xf32>, tensor<32x3xf32>, tensor<32x4xf32> bias_ih tensor<32xf32> bias_hh tensor<32xf32> h0 tensor<1x2x4xf32> -> tensor<1x7x8xf32>
  %s = nn.slice %0 offsets [0, 0, 0] strides [1, 1, 1] : tensor<1x7x8xf32> -> tensor<1x6x8xf32>
  %gi = nn.weight "gi" offset 1088 : tensor<15x8xf32>
  %gh = nn.weight "gh" offset 1600 : tensor<15x5xf32>
  %1 = nn.gru %s, %gi, %gh : tensor<1x6x8xf32>, tensor<15x8xf32>, tensor<15x5xf32> -> tensor<1x6x5xf32>
  func.return %1 : tensor<1x6x5xf32>
}

// CHECK:      %[[C:.*]] = cpu.null : memref<1x2x4xf32>
// CHECK-NEXT: cpu.call @lstm(%x, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[C]]) outs(%[[L:.*]]) params(T = 6, F = 3, H = 4, directions = 2, packed = 0)
// CHECK-NEXT: %[[S:.*]] = cpu.view %[[L]] offset 0 : memref<1x7x8xf32> -> memref<1x6x8xf32>
// CHECK:      cpu.call @gru(%[[S]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) outs(%y) params(T = 6, F = 8, H = 5, directions = 1, packed = 0)
