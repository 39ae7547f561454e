// RUN: mnistc-opt %s -p plan-memory | filecheck %s
// RUN: mnistc-opt %s -p plan-memory -t cpp | filecheck %s --check-prefix=CPP

// Kernel scratch: each call's need by slot (kernels/abi.py's formulas), the largest per
// slot. conv2d_gemm, 16 output pixels: its B block, KC 256 x one panel of 16 columns
// (slot 0). conv2d_winograd, 24 -> 8 channels on a 4x4 output: the padded input
// 6 x 6 x 24 (slot 0, smaller), a thread's tiles 36 positions x 6 tiles x (24 + 16)
// channels (slot 1).
// CHECK:      func.func @forward
// CHECK-SAME:   cpu.scratch_floats = array<i64: 4096, 8640>

// The C++ target gives every thread those slots and stops a kernel asking for more.
// CPP:      static const int64_t scratch_planned[2] = {4096, 8640};
// CPP-NEXT: alignas(64) static thread_local float scratch_0[4096];
// CPP-NEXT: alignas(64) static thread_local float scratch_1[8640];
// CPP:      if (floats > scratch_planned[slot]) mnistc_scratch_exceeded(slot, floats, scratch_planned[slot]);
// And every call's direct-equivalent FLOPs for the profile: 2 x 24 x 16 x 9 x 16 and
// 2 x 8 x 24 x 9 x 16 (Winograd counted as a direct convolution).
// CPP:      static const int64_t profile_flops[] = {110592, 55296};
// CPP:      mnistc_model_scratch_bytes(void) { return 50944; }
builtin.module attributes {nn.weights_file = "w.bin"} {
func.func @forward(%input: memref<?x16x8x8xf32>, %output: memref<?x8x4x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %batch = memref.dim %input, %c0 : memref<?x16x8x8xf32>
  %w1 = cpu.weight "w1" offset 0 : memref<3456xf32>
  %w2 = cpu.weight "w2" offset 0 : memref<4608xf32>
  scf.for %n = %c0 to %batch step %c1 {
    %x = cpu.sample %input[%n] : memref<?x16x8x8xf32> -> memref<1x16x8x8xf32>
    %y = cpu.sample %output[%n] : memref<?x8x4x4xf32> -> memref<1x8x4x4xf32>
    %a = memref.alloc() : memref<1x24x4x4xf32>
    %null = cpu.null : memref<24xf32>
    %nullr = cpu.null : memref<1x24x4x4xf32>
    cpu.call @conv2d_gemm(%x, %w1, %null, %nullr) outs(%a) params(C = 16, H = 8, W = 8, K = 24, OH = 4, OW = 4, KH = 3, KW = 3, stride_h = 2, stride_w = 2, pad_h = 1, pad_w = 1, dilation_h = 1, dilation_w = 1, groups = 1, activation = 0, alpha = 0.0, beta = 0.0) : (memref<1x16x8x8xf32>, memref<3456xf32>, memref<24xf32>, memref<1x24x4x4xf32>) -> (memref<1x24x4x4xf32>)
    %null2 = cpu.null : memref<8xf32>
    %nullr2 = cpu.null : memref<1x8x4x4xf32>
    cpu.call @conv2d_winograd(%a, %w2, %null2, %nullr2) outs(%y) params(C = 24, H = 4, W = 4, K = 8, OH = 4, OW = 4, pad_h = 1, pad_w = 1, pool = 0, activation = 0, alpha = 0.0, beta = 0.0) : (memref<1x24x4x4xf32>, memref<4608xf32>, memref<8xf32>, memref<1x8x4x4xf32>) -> (memref<1x8x4x4xf32>)
  }
  func.return
}
}
