// RUN: mnistc-opt %s --split-input-file --verify-diagnostics | filecheck %s

func.func @view_count(%x: memref<1x16xf32>) {
  %v = cpu.view %x : memref<1x16xf32> -> memref<1x15xf32>
  func.return
}
// CHECK: view from [1, 16] to [1, 15] changes the number of elements

// -----

func.func @view_past_the_end(%x: memref<1x16xf32>) {
  %v = cpu.view %x offset 9 : memref<1x16xf32> -> memref<1x8xf32>
  func.return
}
// CHECK: view of 8 elements from 9 is outside the 16 of [1, 16]

// -----

func.func @sample_shape(%x: memref<?x16xf32>, %i: index) {
  %v = cpu.sample %x[%i] : memref<?x16xf32> -> memref<1x8xf32>
  func.return
}
// CHECK: a sample of [?, 16] has shape [1, 16], not [1, 8]

// -----

func.func @no_outputs(%x: memref<1x16xf32>) {
  cpu.call @copy(%x) outs() params(count = 16) : (memref<1x16xf32>) -> ()
  func.return
}
// CHECK: @copy takes 1 inputs and 1 outputs, got 1 and 0

// -----

func.func @dynamic_buffer(%x: memref<?x16xf32>, %y: memref<1x16xf32>) {
  cpu.call @copy(%x) outs(%y) params(count = 16) : (memref<?x16xf32>) -> (memref<1x16xf32>)
  func.return
}
// CHECK: kernel buffers must have static shapes

// -----

func.func @slot_offset() {
  %t = cpu.arena_slot offset 2 : memref<1x16xf32>
  func.return
}
// CHECK: arena offset must be a non-negative multiple of 4

// -----

func.func @unknown_kernel(%x: memref<1x16xf32>, %y: memref<1x16xf32>) {
  cpu.call @relu(%x) outs(%y) params(count = 16) : (memref<1x16xf32>) -> (memref<1x16xf32>)
  func.return
}
// CHECK: 'relu' is not a kernel of kernels/abi.py

// -----

func.func @missing_param(%x: memref<1x16xf32>, %y: memref<1x16xf32>) {
  cpu.call @activation(%x) outs(%y) params(count = 16, alpha = 0.0, beta = 0.0) : (memref<1x16xf32>) -> (memref<1x16xf32>)
  func.return
}
// CHECK: @activation takes params (count, activation, alpha, beta), got (count, alpha, beta)

// -----

func.func @null_input(%y: memref<1x16xf32>) {
  %x = cpu.null : memref<1x16xf32>
  cpu.call @copy(%x) outs(%y) params(count = 16) : (memref<1x16xf32>) -> (memref<1x16xf32>)
  func.return
}
// CHECK: @copy: input 'input' may not be null
