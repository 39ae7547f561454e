// The weight file holds "w" [20, 3] (60 floats) at byte 0; the packed weight is appended
// at the next 64-byte boundary, byte 256.
// RUN: rm -rf %t && mkdir -p %t && cd %t
// RUN: %python -c "import numpy as np; np.arange(60, dtype='<f4').tofile('p.weights.bin')"
// RUN: mnistc-opt %s -p pack-weights --weights-out out.weights.bin | filecheck %s
// RUN: %python -c "import numpy as np; w = np.fromfile('out.weights.bin', '<f4'); p = w[64:160].reshape(2, 3, 16); assert (p[0, :, :] == np.arange(60).reshape(20, 3)[:16].T).all() and (p[1, :, :4] == np.arange(60).reshape(20, 3)[16:].T).all() and (p[1, :, 4:] == 0).all()"

// A linear layer on 4 rows or more (a transformer's tokens) runs on the GEMM core: the
// weight W [20, 3] packed as its B = W^T in panels of 16 outputs, [2][3][16],
// zero-filled past output 20 (checked above), its bias and activation kept. On 3 rows,
// and on one (the GEMV), linear stays.
// CHECK-LABEL: func.func @forward
// CHECK:       %[[P:.*]] = cpu.weight "w|linear_gemm" offset 256 : memref<96xf32>
// CHECK:       cpu.call @linear_gemm(%{{.*}}, %[[P]], %{{.*}}) outs(%{{.*}}) params(M = 4, IN = 3, OUT = 20, activation = 8, alpha = 0.0, beta = 0.0)
// CHECK:       cpu.call @linear(%{{.*}}, %{{.*}}, %{{.*}}) outs(%{{.*}}) params(M = 3, IN = 3, OUT = 20,
// CHECK:       cpu.call @linear(%{{.*}}, %{{.*}}, %{{.*}}) outs(%{{.*}}) params(M = 1, IN = 3, OUT = 20,

builtin.module attributes {nn.weights_file = "p.weights.bin"} {
  func.func @forward(%input: memref<?x4x3xf32>, %output: memref<?x4x20xf32>) {
    %c0 = arith.constant 0 : index
    %w = cpu.weight "w" offset 0 : memref<20x3xf32>
    %x = cpu.sample %input[%c0] : memref<?x4x3xf32> -> memref<1x4x3xf32>
    %y = cpu.sample %output[%c0] : memref<?x4x20xf32> -> memref<1x4x20xf32>
    %b = cpu.null : memref<20xf32>
    cpu.call @linear(%x, %w, %b) outs(%y) params(M = 4, IN = 3, OUT = 20, activation = 8, alpha = 0.0, beta = 0.0) : (memref<1x4x3xf32>, memref<20x3xf32>, memref<20xf32>) -> (memref<1x4x20xf32>)
    %three = memref.alloc() : memref<3x20xf32>
    cpu.call @linear(%x, %w, %b) outs(%three) params(M = 3, IN = 3, OUT = 20, activation = 0, alpha = 0.0, beta = 0.0) : (memref<1x4x3xf32>, memref<20x3xf32>, memref<20xf32>) -> (memref<3x20xf32>)
    %one = memref.alloc() : memref<1x20xf32>
    cpu.call @linear(%x, %w, %b) outs(%one) params(M = 1, IN = 3, OUT = 20, activation = 0, alpha = 0.0, beta = 0.0) : (memref<1x4x3xf32>, memref<20x3xf32>, memref<20xf32>) -> (memref<1x20xf32>)
    func.return
  }
}
