pub mod bvh;
