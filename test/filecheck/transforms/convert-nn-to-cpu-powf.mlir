// RUN: mnistc-opt %s | mnistc-opt --print-op-generic | mnistc-opt | filecheck %s --check-prefix=ROUND
// RUN: mnistc-opt %s -p convert-nn-to-cpu | filecheck %s

// nn.powf, a run-time exponent: a binary op that broadcasts on either side, lowered to
// the `binary` kernel (op 7, powf); a constant number exponent stays nn.pow.

func.func @forward(%x: tensor<1x3x4x5xf32>, %e: tensor<1x1x5xf32>) -> tensor<1x3x4x5xf32> {
  %0 = nn.powf %x, %e : tensor<1x3x4x5xf32>, tensor<1x1x5xf32> -> tensor<1x3x4x5xf32>
  %two = nn.splat 2.0 : tensor<1xf32>
  %1 = nn.powf %two, %0 activation "relu" : tensor<1xf32>, tensor<1x3x4x5xf32> -> tensor<1x3x4x5xf32>
  func.return %1 : tensor<1x3x4x5xf32>
}

// ROUND:      %[[P:.*]] = nn.powf %x, %e : tensor<1x3x4x5xf32>, tensor<1x1x5xf32> -> tensor<1x3x4x5xf32>
// ROUND:      nn.powf %{{.*}}, %[[P]] activation "relu" : tensor<1xf32>, tensor<1x3x4x5xf32> -> tensor<1x3x4x5xf32>

// The [1, 1, 5] exponent read with stride 0 over C and H, which merge into one dimension.
// CHECK: cpu.call @binary(%{{.*}}, %{{.*}}) outs(%{{.*}}) params(op = 7, d0 = 1, d1 = 1, d2 = 12, d3 = 5, l0 = 0, l1 = 0, l2 = 5, l3 = 1, r0 = 0, r1 = 0, r2 = 0, r3 = 1, activation = 0, alpha = 0.0, beta = 0.0)
// The base, one value, read with stride 0 everywhere; relu fused (activation 1).
// CHECK: cpu.call @binary(%{{.*}}, %{{.*}}) outs(%{{.*}}) params(op = 7, d0 = 1, d1 = 1, d2 = 1, d3 = 60, l0 = 0, l1 = 0, l2 = 0, l3 = 0, r0 = 0, r1 = 0, r2 = 0, r3 = 1, activation = 1, alpha = 0.0, beta = 0.0)
