// RUN: mnistc-opt %s -p convert-nn-to-cpu | filecheck %s
// RUN: mnistc-opt %s -p convert-nn-to-cpu | mnistc-opt --print-op-generic | mnistc-opt | filecheck %s

builtin.module attributes {nn.weights_file = "w.bin"} {
  func.func @forward(%x: tensor<1x1x6x6xf32>) -> tensor<1x4xf32> {
    %w = nn.weight "conv.weight" offset 0 : tensor<2x1x3x3xf32>
    %0 = nn.conv2d %x, %w stride [1, 1] padding [1, 1] dilation [1, 1] groups 1 activation "relu" : tensor<1x1x6x6xf32>, tensor<2x1x3x3xf32> -> tensor<1x2x6x6xf32>
    %1 = nn.max_pool2d %0 kernel [2, 2] stride [2, 2] padding [0, 0] dilation [1, 1] ceil_mode 0 : tensor<1x2x6x6xf32> -> tensor<1x2x3x3xf32>
    %2 = nn.dropout %1 p 5.000000e-01 : tensor<1x2x3x3xf32>
    %3 = nn.reshape %2 : tensor<1x2x3x3xf32> -> tensor<1x18xf32>
    %fw = nn.weight "fc.weight" offset 128 : tensor<4x18xf32>
    %fb = nn.weight "fc.bias" offset 448 : tensor<4xf32>
    %4 = nn.linear %3, %fw bias %fb : tensor<1x18xf32>, tensor<4x18xf32>, tensor<4xf32> -> tensor<1x4xf32>
    %5 = nn.relu %4 : tensor<1x4xf32>
    %6 = nn.log_softmax %5 dim 1 : tensor<1x4xf32>
    func.return %6 : tensor<1x4xf32>
  }
}

// Destination-passing signature with a dynamic batch, weights hoisted out of the loop.
// CHECK:      func.func @forward(%[[IN:.*]]: memref<?x1x6x6xf32> {mnistc.input = "input"}, %[[OUT:.*]]: memref<?x4xf32> {mnistc.output = "output"}) {
// CHECK-DAG:    %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG:    %[[C1:.*]] = arith.constant 1 : index
// CHECK:        %[[N:.*]] = memref.dim %[[IN]], %[[C0]] : memref<?x1x6x6xf32>
// CHECK:        %[[W:.*]] = cpu.weight "conv.weight" offset 0 : memref<2x1x3x3xf32>
// CHECK:        %[[FW:.*]] = cpu.weight "fc.weight" offset 128 : memref<4x18xf32>
// CHECK:        %[[FB:.*]] = cpu.weight "fc.bias" offset 448 : memref<4xf32>
// CHECK:        scf.for %[[I:.*]] = %[[C0]] to %[[N]] step %[[C1]] {
// CHECK-NEXT:     %[[X:.*]] = cpu.sample %[[IN]][%[[I]]] : memref<?x1x6x6xf32> -> memref<1x1x6x6xf32>
// CHECK-NEXT:     %[[Y:.*]] = cpu.sample %[[OUT]][%[[I]]] : memref<?x4xf32> -> memref<1x4xf32>
// One call per op; a missing bias or residual is an explicit null buffer; the fused
// relu is activation code 1 with its two (unused) float parameters.
// CHECK-NEXT:     %[[B0:.*]] = memref.alloc() : memref<1x2x6x6xf32>
// CHECK-NEXT:     %[[NULL:.*]] = cpu.null : memref<2xf32>
// CHECK-NEXT:     %[[NULL2:.*]] = cpu.null : memref<1x2x6x6xf32>
// CHECK-NEXT:     cpu.call @conv2d(%[[X]], %[[W]], %[[NULL]], %[[NULL2]]) outs(%[[B0]]) params(C = 1, H = 6, W = 6, K = 2, OH = 6, OW = 6, KH = 3, KW = 3, stride_h = 1, stride_w = 1, pad_h = 1, pad_w = 1, dilation_h = 1, dilation_w = 1, groups = 1, activation = 1, alpha = 0.0, beta = 0.0)
// CHECK-NEXT:     %[[B1:.*]] = memref.alloc() : memref<1x2x3x3xf32>
// CHECK-NEXT:     cpu.call @max_pool2d(%[[B0]]) outs(%[[B1]]) params(C = 2, H = 6, W = 6, OH = 3, OW = 3, KH = 2, KW = 2, stride_h = 2, stride_w = 2, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1)
// Dropout and reshape alias their input.
// CHECK-NEXT:     %[[D:.*]] = cpu.view %[[B1]] : memref<1x2x3x3xf32> -> memref<1x2x3x3xf32>
// CHECK-NEXT:     %[[V:.*]] = cpu.view %[[D]] : memref<1x2x3x3xf32> -> memref<1x18xf32>
// CHECK-NEXT:     %[[B2:.*]] = memref.alloc() : memref<1x4xf32>
// CHECK-NEXT:     cpu.call @linear(%[[V]], %[[FW]], %[[FB]]) outs(%[[B2]]) params(M = 1, IN = 18, OUT = 4, activation = 0, alpha = 0.0, beta = 0.0)
// CHECK-NEXT:     %[[B3:.*]] = memref.alloc() : memref<1x4xf32>
// CHECK-NEXT:     cpu.call @activation(%[[B2]]) outs(%[[B3]]) params(count = 4, activation = 1, alpha = 0.0, beta = 0.0)
// The last op writes the output sample directly.
// CHECK-NEXT:     cpu.call @log_softmax(%[[B3]]) outs(%[[Y]]) params(outer = 1, axis = 4, inner = 1)
// CHECK-NEXT:   }
// CHECK-NEXT:   func.return
