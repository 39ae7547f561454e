// RUN: mnistc-opt %s | mnistc-opt | filecheck %s
// RUN: mnistc-opt %s --print-op-generic | mnistc-opt | filecheck %s
// RUN: mnistc-opt %s -p canonicalize | filecheck %s --check-prefix=CANON

// transpose, slice (steps, negative steps) and expand, round-tripped; canonicalize keeps
// the copies that move elements and folds the ones that do not.

func.func @forward(%x: tensor<1x4x6x5xf32>) -> tensor<1x5x4x2xf32> {
  %0 = nn.transpose %x permutation [0, 3, 1, 2] : tensor<1x4x6x5xf32> -> tensor<1x5x4x6xf32>
  %1 = nn.slice %0 offsets [0, 0, 1, 5] strides [1, 1, 2, -3] : tensor<1x5x4x6xf32> -> tensor<1x5x2x2xf32>
  %2 = nn.slice %1 offsets [0, 4, 0, 0] strides [1, 1, 1, 1] : tensor<1x5x2x2xf32> -> tensor<1x1x2x2xf32>
  %3 = nn.expand %2 : tensor<1x1x2x2xf32> -> tensor<1x5x2x2xf32>
  %4 = nn.add %1, %3 : tensor<1x5x2x2xf32>, tensor<1x5x2x2xf32> -> tensor<1x5x2x2xf32>
  %5 = nn.expand %4 : tensor<1x5x2x2xf32> -> tensor<1x5x2x2xf32>
  %6 = nn.slice %5 offsets [0, 0, 0, 0] strides [1, 1, 1, 1] : tensor<1x5x2x2xf32> -> tensor<1x5x2x2xf32>
  %7 = nn.transpose %6 permutation [0, 1, 3, 2] : tensor<1x5x2x2xf32> -> tensor<1x5x2x2xf32>
  %8 = nn.reshape %7 : tensor<1x5x2x2xf32> -> tensor<1x5x1x4xf32>
  %9 = nn.transpose %8 permutation [0, 1, 3, 2] : tensor<1x5x1x4xf32> -> tensor<1x5x4x1xf32>
  %10 = nn.concat %9, %9 dim 3 : tensor<1x5x4x1xf32>, tensor<1x5x4x1xf32> -> tensor<1x5x4x2xf32>
  func.return %10 : tensor<1x5x4x2xf32>
}

// CHECK:      nn.transpose %{{.*}} permutation [0, 3, 1, 2] : tensor<1x4x6x5xf32> -> tensor<1x5x4x6xf32>
// CHECK-NEXT: nn.slice %{{.*}} offsets [0, 0, 1, 5] strides [1, 1, 2, -3] : tensor<1x5x4x6xf32> -> tensor<1x5x2x2xf32>
// CHECK-NEXT: nn.slice %{{.*}} offsets [0, 4, 0, 0] strides [1, 1, 1, 1] : tensor<1x5x2x2xf32> -> tensor<1x1x2x2xf32>
// CHECK-NEXT: nn.expand %{{.*}} : tensor<1x1x2x2xf32> -> tensor<1x5x2x2xf32>
// CHECK:      nn.expand %{{.*}} : tensor<1x5x2x2xf32> -> tensor<1x5x2x2xf32>
// CHECK-NEXT: nn.slice %{{.*}} offsets [0, 0, 0, 0] strides [1, 1, 1, 1] : tensor<1x5x2x2xf32> -> tensor<1x5x2x2xf32>
// CHECK-NEXT: nn.transpose %{{.*}} permutation [0, 1, 3, 2] : tensor<1x5x2x2xf32> -> tensor<1x5x2x2xf32>

// CANON:      nn.transpose %{{.*}} permutation [0, 3, 1, 2]
// CANON-NEXT: nn.slice %{{.*}} offsets [0, 0, 1, 5] strides [1, 1, 2, -3]
// CANON-NEXT: nn.slice %{{.*}} offsets [0, 4, 0, 0]
// CANON-NEXT: nn.expand
// CANON-NEXT: %[[SUM:.*]] = nn.add
// CANON-NEXT: %[[T:.*]] = nn.transpose %[[SUM]] permutation [0, 1, 3, 2]
// CANON-NEXT: %[[R:.*]] = nn.reshape %[[T]] : tensor<1x5x2x2xf32> -> tensor<1x5x4x1xf32>
// CANON-NEXT: nn.concat %[[R]], %[[R]] dim 3
