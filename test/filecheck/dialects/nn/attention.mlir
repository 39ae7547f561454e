// RUN: mnistc-opt %s | mnistc-opt | filecheck %s
// RUN: mnistc-opt %s --print-op-generic | mnistc-opt | filecheck %s

// The `matmul` family (issue 12), round-tripped: products of two run-time tensors with
// broadcast batch dimensions, attention with and without a mask.

func.func @forward(%q: tensor<1x2x5x8xf32>) -> tensor<1x2x5x8xf32> {
  %m = nn.weight "mask" offset 0 : tensor<5x5xf32>
  %t = nn.transpose %q permutation [0, 1, 3, 2] : tensor<1x2x5x8xf32> -> tensor<1x2x8x5xf32>
  %s = nn.matmul %q, %t : tensor<1x2x5x8xf32>, tensor<1x2x8x5xf32> -> tensor<1x2x5x5xf32>
  %k = nn.slice %t offsets [0, 0, 0, 0] strides [1, 1, 1, 1] : tensor<1x2x8x5xf32> -> tensor<1x1x8x5xf32>
  %b = nn.matmul %q, %k : tensor<1x2x5x8xf32>, tensor<1x1x8x5xf32> -> tensor<1x2x5x5xf32>
  %a = nn.attention %q, %q, %q mask %m scale 0.35 causal 0 : tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>, tensor<5x5xf32> -> tensor<1x2x5x8xf32>
  %c = nn.attention %q, %q, %q scale 1.0 causal 1 : tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32> -> tensor<1x2x5x8xf32>
  func.return %c : tensor<1x2x5x8xf32>
}

// CHECK:      %{{.*}} = nn.matmul %{{.*}}, %{{.*}} : tensor<1x2x5x8xf32>, tensor<1x2x8x5xf32> -> tensor<1x2x5x5xf32>
// CHECK:      %{{.*}} = nn.matmul %{{.*}}, %{{.*}} : tensor<1x2x5x8xf32>, tensor<1x1x8x5xf32> -> tensor<1x2x5x5xf32>
// CHECK-NEXT: %{{.*}} = nn.attention %{{.*}}, %{{.*}}, %{{.*}} mask %{{.*}} scale 3.500000e-01 causal 0 : tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>, tensor<5x5xf32> -> tensor<1x2x5x8xf32>
// CHECK-NEXT: %{{.*}} = nn.attention %{{.*}}, %{{.*}}, %{{.*}} scale 1.000000e+00 causal 1 : tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32> -> tensor<1x2x5x8xf32>
