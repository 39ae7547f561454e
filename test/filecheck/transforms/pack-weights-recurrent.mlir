// RUN: rm -rf %t && mkdir -p %t && cd %t
// RUN: %python -c "import numpy as np; np.arange(600, dtype='<f4').tofile('p.weights.bin')"
// RUN: mnistc-opt %s -p pack-weights --weights-out out.weights.bin | filecheck %s

// LSTM and GRU weights packed at compile time: weight_ih as the GEMM core's A per
// direction (ceil(rows / 6) panels of 6 rows by F), weight_hh in panels of 8 gate rows
// by H; the call then says `packed = 1`. A GRU of H = 5 (15 rows): 3 panels of 6 by 8
// features, 2 panels of 8 by 5.
// CHECK-LABEL: func.func @forward
// CHECK-DAG:   %[[I:.*]] = cpu.weight "gi|gru" offset {{[0-9]+}} : memref<144xf32>
// CHECK-DAG:   %[[H:.*]] = cpu.weight "gh|gru" offset {{[0-9]+}} : memref<80xf32>
// CHECK:       cpu.call @gru(%{{.*}}, %[[I]], %[[H]], %{{.*}}, %{{.*}}, %{{.*}}) outs(%{{.*}}) params(T = 6, F = 8, H = 5, directions = 1, packed = 1)

builtin.module attributes {nn.weights_file = "p.weights.bin"} {
  func.func @forward(%input: memref<?x6x8xf32>, %output: memref<?x6x5xf32>) {
    %c0 = arith.constant 0 : index
    %gi = cpu.weight "gi" offset 0 : memref<15x8xf32>
    %gh = cpu.weight "gh" offset 512 : memref<15x5xf32>
    %x = cpu.sample %input[%c0] : memref<?x6x8xf32> -> memref<1x6x8xf32>
    %y = cpu.sample %output[%c0] : memref<?x6x5xf32> -> memref<1x6x5xf32>
    %b = cpu.null : memref<15xf32>
    %h = cpu.null : memref<1x1x5xf32>
    cpu.call @gru(%x, %gi, %gh, %b, %b, %h) outs(%y) params(T = 6, F = 8, H = 5, directions = 1, packed = 0) : (memref<1x6x8xf32>, memref<15x8xf32>, memref<15x5xf32>, memref<15xf32>, memref<15xf32>, memref<1x1x5xf32>) -> (memref<1x6x5xf32>)
    func.return
  }
}
