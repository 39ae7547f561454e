// RUN: mnistc-opt %s --split-input-file --verify-diagnostics | filecheck %s

func.func @view_count(%x: memref<1x16xf32>) {
  %v = cpu.view %x : memref<1x16xf32> -> memref<1x15xf32>
  func.return
}
// CHECK: view from [1, 16] to [1, 15] changes the number of elements

// -----

func.func @sample_shape(%x: memref<?x16xf32>, %i: index) {
  %v = cpu.sample %x[%i] : memref<?x16xf32> -> memref<1x8xf32>
  func.return
}
// CHECK: a sample of [?, 16] has shape [1, 16], not [1, 8]

// -----

func.func @no_outputs(%x: memref<1x16xf32>) {
  cpu.call @relu(%x) outs() params [16] : (memref<1x16xf32>) -> ()
  func.return
}
// CHECK: a kernel call must write at least one output

// -----

func.func @dynamic_buffer(%x: memref<?x16xf32>, %y: memref<1x16xf32>) {
  cpu.call @relu(%x) outs(%y) params [16] : (memref<?x16xf32>) -> (memref<1x16xf32>)
  func.return
}
// CHECK: kernel buffers must have static shapes

// -----

func.func @slot_offset() {
  %t = cpu.arena_slot offset 2 : memref<1x16xf32>
  func.return
}
// CHECK: arena offset must be a non-negative multiple of 4
