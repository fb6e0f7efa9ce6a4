Console.WriteLine("elman-rnn");
