// RUN: mnistc-opt %s | mnistc-opt | filecheck %s --check-prefix=NN
// RUN: mnistc-opt %s -p convert-nn-to-cpu | filecheck %s --check-prefix=CPU
// RUN: mnistc-opt %s -p convert-nn-to-cpu | mnistc-opt --print-op-generic | mnistc-opt | filecheck %s --check-prefix=CPU
// RUN: mnistc-opt %s -p convert-nn-to-cpu,plan-memory -t cpp | filecheck %s --check-prefix=CPP

// A fill (ONNX's ConstantOfShape) stays one value at every level: `nn.splat`,
// `cpu.splat`, then static storage that C++ fills once (a zero fill not at all).
// Locations travel with the ops through the lowering.

func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x3xf32> {
  %w = nn.splat 0.25 : tensor<3x4xf32> loc("fc (Linear)"("model.py":7:0))
  %b = nn.splat 0.0 : tensor<3xf32>
  %0 = nn.linear %x, %w bias %b : tensor<1x4xf32>, tensor<3x4xf32>, tensor<3xf32> -> tensor<1x3xf32> loc("%y"("fc (Linear)"("model.py":7:0)))
  func.return %0 : tensor<1x3xf32>
}

// NN:      %[[W:.*]] = nn.splat 2.500000e-01 : tensor<3x4xf32> loc("fc (Linear)"("model.py":7:0))
// NN-NEXT: %[[B:.*]] = nn.splat 0.000000e+00 : tensor<3xf32>
// NN-NEXT: nn.linear %{{.*}}, %[[W]] bias %[[B]] : {{.*}} loc("%y"("fc (Linear)"("model.py":7:0)))

// CPU:      %[[W:.*]] = cpu.splat 2.500000e-01 : memref<3x4xf32> loc("fc (Linear)"("model.py":7:0))
// CPU-NEXT: %[[B:.*]] = cpu.splat 0.000000e+00 : memref<3xf32>
// CPU:      cpu.call @linear(%{{.*}}, %[[W]], %[[B]]) {{.*}} loc("%y"("fc (Linear)"("model.py":7:0)))

// CPP:      #include <algorithm>
// CPP:      alignas(64) static float [[W:[a-z_0-9]+]][12];
// CPP-NEXT: static const bool [[F:[a-z_0-9]+]] = (std::fill_n([[W]], 12, 0.25f), true);
// CPP-NEXT: (void)[[F]];
// CPP-NEXT: alignas(64) static float [[B:[a-z_0-9]+]][3];
// CPP-NEXT: auto sample
// CPP:      mnistc_linear({{.*}}, [[W]], [[B]],
