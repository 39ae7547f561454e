// RUN: mnistc-opt %s | filecheck %s --check-prefix=NN
// RUN: mnistc-opt %s -p convert-nn-to-cpu | filecheck %s
// RUN: mnistc-opt %s -p convert-nn-to-cpu,plan-memory -t cpp | filecheck %s --check-prefix=CPP

// A model of two inputs and four outputs: one computed by a kernel, one that is an
// input itself, one a view of another output, one the first again. Names travel as
// `mnistc.name`.
func.func @forward(%x: tensor<1x2x3xf32> {mnistc.name = "x"}, %mask: tensor<1x6xf32> {mnistc.name = "attn.mask"}) -> (tensor<1x6xf32> {mnistc.name = "sum"}, tensor<1x6xf32> {mnistc.name = "mask_out"}, tensor<1x2x3xf32> {mnistc.name = "sum_view"}, tensor<1x6xf32> {mnistc.name = "sum_again"}) {
  %0 = nn.reshape %x : tensor<1x2x3xf32> -> tensor<1x6xf32>
  %1 = nn.add %0, %mask : tensor<1x6xf32>, tensor<1x6xf32> -> tensor<1x6xf32>
  %2 = nn.reshape %1 : tensor<1x6xf32> -> tensor<1x2x3xf32>
  func.return %1, %mask, %2, %1 : tensor<1x6xf32>, tensor<1x6xf32>, tensor<1x2x3xf32>, tensor<1x6xf32>
}

// NN: func.func @forward(%x: tensor<1x2x3xf32> {mnistc.name = "x"}, %mask: tensor<1x6xf32> {mnistc.name = "attn.mask"}) -> (tensor<1x6xf32> {mnistc.name = "sum"}, tensor<1x6xf32> {mnistc.name = "mask_out"}, tensor<1x2x3xf32> {mnistc.name = "sum_view"}, tensor<1x6xf32> {mnistc.name = "sum_again"})

// Inputs, then outputs, all of the dynamic batch; one sample of each per iteration.
// CHECK:      func.func @forward(%[[X:.*]]: memref<?x2x3xf32> {mnistc.input = "x"}, %[[M:.*]]: memref<?x6xf32> {mnistc.input = "attn.mask"}, %[[S:.*]]: memref<?x6xf32> {mnistc.output = "sum"}, %[[MO:.*]]: memref<?x6xf32> {mnistc.output = "mask_out"}, %[[SV:.*]]: memref<?x2x3xf32> {mnistc.output = "sum_view"}, %[[SA:.*]]: memref<?x6xf32> {mnistc.output = "sum_again"}) {
// CHECK:        %[[N:.*]] = memref.dim %[[X]], %{{.*}} : memref<?x2x3xf32>
// CHECK:        scf.for %[[I:.*]] = %{{.*}} to %[[N]] step %{{.*}} {
// CHECK-NEXT:     %[[X0:.*]] = cpu.sample %[[X]][%[[I]]]
// CHECK-NEXT:     %[[M0:.*]] = cpu.sample %[[M]][%[[I]]]
// CHECK-NEXT:     %[[S0:.*]] = cpu.sample %[[S]][%[[I]]]
// CHECK-NEXT:     %[[MO0:.*]] = cpu.sample %[[MO]][%[[I]]]
// CHECK-NEXT:     %[[SV0:.*]] = cpu.sample %[[SV]][%[[I]]]
// CHECK-NEXT:     %[[SA0:.*]] = cpu.sample %[[SA]][%[[I]]]
// The add writes its first output directly; the input, the view and the value returned
// a second time are copied.
// CHECK:          cpu.call @binary(%{{.*}}, %[[M0]]) outs(%[[S0]])
// CHECK:          %[[V:.*]] = cpu.view %[[S0]]
// CHECK:          cpu.call @copy(%[[M0]]) outs(%[[MO0]]) params(count = 6)
// CHECK-NEXT:     cpu.call @copy(%[[V]]) outs(%[[SV0]]) params(count = 6)
// CHECK-NEXT:     cpu.call @copy(%[[S0]]) outs(%[[SA0]]) params(count = 6)

// CPP:      static void forward(const float* const* inputs, float* const* outputs, int64_t batch) {
// CPP:        auto* x0 = inputs[0] + n * 6;
// CPP-NEXT:   auto* x1 = inputs[1] + n * 6;
// CPP-NEXT:   auto* y0 = outputs[0] + n * 6;
// CPP-NEXT:   auto* y1 = outputs[1] + n * 6;
// CPP-NEXT:   auto* y2 = outputs[2] + n * 6;
// CPP-NEXT:   auto* y3 = outputs[3] + n * 6;
// CPP:      static const int64_t input_count = 2;
// CPP-NEXT: static const char* const input_names[] = {"x", "attn.mask"};
// CPP-NEXT: static const int64_t input_sizes[] = {6, 6};
// CPP-NEXT: static const char* const input_shapes[] = {"2x3", "6"};
// CPP:      static const int64_t output_count = 4;
// CPP-NEXT: static const char* const output_names[] = {"sum", "mask_out", "sum_view", "sum_again"};
// CPP-NEXT: static const int64_t output_sizes[] = {6, 6, 6, 6};
// CPP-NEXT: static const char* const output_shapes[] = {"6", "6", "2x3", "6"};
