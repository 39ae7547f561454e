// RUN: mnistc-opt %s -p convert-nn-to-cpu | filecheck %s

// A result that no kernel produces (a view of the input) is copied to the output.
// CHECK:      %[[X:.*]] = cpu.sample
// CHECK-NEXT: %[[Y:.*]] = cpu.sample
// CHECK-NEXT: %[[V:.*]] = cpu.view %[[X]] : memref<1x2x2xf32> -> memref<1x4xf32>
// CHECK-NEXT: cpu.call @copy(%[[V]]) outs(%[[Y]]) params(count = 4)
func.func @forward(%x: tensor<1x2x2xf32>) -> tensor<1x4xf32> {
  %0 = nn.reshape %x : tensor<1x2x2xf32> -> tensor<1x4xf32>
  func.return %0 : tensor<1x4xf32>
}
