// RUN: mnistc-opt %s -p convert-nn-to-cpu,plan-memory -t cpp | filecheck %s
// RUN: mnistc-opt %s -p convert-nn-to-cpu -t cpp | filecheck %s --check-prefix=UNPLANNED
// RUN: mnistc-opt %s -p convert-nn-to-cpu -t 'cpp{weights="other.bin"}' | filecheck %s --check-prefix=WEIGHTS

builtin.module attributes {nn.weights_file = "w.bin"} {
  func.func @forward(%x: tensor<1x1x6x6xf32>) -> tensor<1x4xf32> {
    %w = nn.weight "conv.weight" offset 0 : tensor<2x1x3x3xf32>
    %0 = nn.conv2d %x, %w stride [1, 1] padding [1, 1] dilation [1, 1] groups 1 activation "relu" : tensor<1x1x6x6xf32>, tensor<2x1x3x3xf32> -> tensor<1x2x6x6xf32>
    %1 = nn.max_pool2d %0 kernel [2, 2] stride [2, 2] padding [0, 0] dilation [1, 1] ceil_mode 0 : tensor<1x2x6x6xf32> -> tensor<1x2x3x3xf32>
    %2 = nn.reshape %1 : tensor<1x2x3x3xf32> -> tensor<1x18xf32>
    %fw = nn.weight "fc.weight" offset 128 : tensor<4x18xf32>
    %fb = nn.weight "fc.bias" offset 448 : tensor<4xf32>
    %3 = nn.linear %2, %fw bias %fb : tensor<1x18xf32>, tensor<4x18xf32>, tensor<4xf32> -> tensor<1x4xf32>
    %4 = nn.log_softmax %3 dim 1 : tensor<1x4xf32>
    func.return %4 : tensor<1x4xf32>
  }
}

// CHECK:       #include "kernels.hpp"
// CHECK:       #include "thread_governor.hpp"
// CHECK:       ".incbin \"w.bin\"\n"
// CHECK:       alignas(64) static thread_local unsigned char arena[448];
// CHECK:       static void forward(const float* const* inputs, float* const* outputs, int64_t batch) {
// CHECK:         const float* [[W:[a-z_]+]] = reinterpret_cast<const float*>(mnistc_weights + 0);
// CHECK:         const float* [[FW:[a-z_]+]] = reinterpret_cast<const float*>(mnistc_weights + 128);
// CHECK:         const float* [[FB:[a-z_]+]] = reinterpret_cast<const float*>(mnistc_weights + 448);
// CHECK:         auto sample = [&](int64_t n) {
// CHECK-NEXT:      auto* x = inputs[0] + n * 36;
// CHECK-NEXT:      auto* y = outputs[0] + n * 4;
// CHECK-NEXT:      float* [[B0:[a-z_0-9]+]] = reinterpret_cast<float*>(arena + 0);
// CHECK-NEXT:      mnistc_conv2d(x, [[W]], nullptr, nullptr, [[B0]], 1, 6, 6, 2, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0.0f, 0.0f);
// CHECK-NEXT:      float* [[B1:[a-z_0-9]+]] = reinterpret_cast<float*>(arena + 320);
// CHECK-NEXT:      mnistc_max_pool2d([[B0]], [[B1]], 2, 6, 6, 3, 3, 2, 2, 2, 2, 0, 0, 1, 1);
// CHECK-NEXT:      float* [[B2:[a-z_0-9]+]] = reinterpret_cast<float*>(arena + 0);
// CHECK-NEXT:      mnistc_linear([[B1]], [[FW]], [[FB]], [[B2]], 1, 18, 4, 0, 0.0f, 0.0f);
// CHECK-NEXT:      mnistc_log_softmax([[B2]], y, 1, 4, 1);
// CHECK-NEXT:    };
// The batch loop: one sample per thread when there are enough samples.
// CHECK-NEXT:    if (batch - c0 >= 2 * omp_get_max_threads()) {
// CHECK-NEXT:    #pragma omp parallel for schedule(dynamic)
// CHECK-NEXT:      for (int64_t n = c0; n < batch; n += c1) sample(n);
// CHECK-NEXT:    } else {
// CHECK-NEXT:      for (int64_t n = c0; n < batch; n += c1) sample(n);
// CHECK-NEXT:    }
// CHECK-NEXT:  }
// CHECK:       static const int64_t input_count = 1;
// CHECK-NEXT:  static const char* const input_names[] = {"input"};
// CHECK-NEXT:  static const int64_t input_sizes[] = {36};
// CHECK-NEXT:  static const char* const input_shapes[] = {"1x6x6"};
// CHECK:       static const int64_t output_count = 1;
// CHECK-NEXT:  static const char* const output_names[] = {"output"};
// CHECK-NEXT:  static const int64_t output_sizes[] = {4};
// CHECK-NEXT:  static const char* const output_shapes[] = {"4"};
// CHECK:       static mnistc::ThreadGovernor governor;
// CHECK:       extern "C" int mnistc_model_run_n(const float* const* inputs, float* const* outputs, int64_t batch) {
// CHECK-NEXT:    if (batch < 0 || (batch > 0 && (inputs == nullptr || outputs == nullptr))) return 1;
// CHECK:         mnistc::run_governed(governor, batch, [&] { forward(inputs, outputs, batch); });
// CHECK:       extern "C" int mnistc_model_run(const float* input, float* output, int64_t batch) {
// CHECK-NEXT:    if (input_count != 1 || output_count != 1) return 2;
// CHECK-NEXT:    return mnistc_model_run_n(&input, &output, batch);
// CHECK:       extern "C" int64_t mnistc_model_input_size(void) { return input_sizes[0]; }
// CHECK:       extern "C" int64_t mnistc_model_output_size(void) { return output_sizes[0]; }
// CHECK:       extern "C" const char* mnistc_model_input_shape(void) { return input_shapes[0]; }

// Without a memory plan every buffer has its own static storage.
// UNPLANNED-NOT:  arena[
// UNPLANNED:      alignas(64) static thread_local float [[B0:[a-z_0-9]+]][72];
// UNPLANNED:      alignas(64) static thread_local float [[B1:[a-z_0-9]+]][18];

// WEIGHTS: ".incbin \"other.bin\"\n"
