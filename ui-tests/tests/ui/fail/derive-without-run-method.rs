use suture::Service;

#[derive(Service)]
struct Job;

fn main() {}
